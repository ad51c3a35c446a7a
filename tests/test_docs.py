"The offline docs site: built from the notebooks, every sidebar page loads and renders in headless Chromium, README is current."
import html, re, shutil
import pytest
from conftest import ROOT, cifar_available
import build_site  # tools/, on the path via conftest

pytestmark = pytest.mark.xdist_group('notebooks')  # the worker that executes the notebooks builds the site from them

@pytest.fixture(scope='module')
def site(notebook_runs):
    if not cifar_available(): pytest.skip('the site executes the quickstart on CIFAR-10 (set BACKDOORPURE_DATA)')
    readme_before = (ROOT/'README.md').read_text()
    failed = sorted(f for _, f in build_site.sidebar_entries() if notebook_runs.run(f) is not None)
    assert not failed, f'these notebooks fail, so the site cannot be built (see their tests): {failed}'
    build_site.build(executed=notebook_runs.folder)
    return readme_before

def test_readme_is_generated_from_the_index_notebook(site):
    assert (ROOT/'README.md').read_text() == site, 'README.md is stale: run `python tools/build_site.py --readme` and commit it'
    assert 'bash tests/run.sh' in site and 'backdoorpure demo' in site

def test_every_sidebar_page_loads_and_renders(site, tmp_path):
    if shutil.which('chromium') is None: pytest.skip('Chromium is not installed (apt-get install -y chromium)')
    entries = build_site.sidebar_entries()
    assert {s for s, _ in entries} >= {'Tutorials', 'Methods', 'Reproduction', 'API'}
    index_dom = build_site.chromium((ROOT/'_docs'/'index.html').as_uri(), '--dump-dom')
    links = re.findall(r'<a class="page[^"]*" href="([^"]+)"', index_dom)
    assert len(links) == len(entries)
    for href in links:
        page = ROOT/'_docs'/href
        assert page.exists(), f'sidebar link {href} has no page'
        dom = build_site.chromium(page.as_uri(), '--dump-dom')
        assert '<nav id="sidebar">' in dom and re.search(r'<h1 class="title">[^<]+</h1>', dom), href
        assert 'Traceback' not in dom, href
        text = re.sub(r'<[^>]+>', ' ', dom)
        assert len(text.split()) > 60, f'{href} renders almost nothing'
    api = build_site.chromium((ROOT/'_docs'/'02_models.html').as_uri(), '--dump-dom')
    assert 'def create_model(' in html.unescape(re.sub(r'<[^>]+>', '', api))  # API signatures from show_doc
    shot = tmp_path/'landing.png'
    build_site.chromium((ROOT/'_docs'/'index.html').as_uri(), f'--screenshot={shot}')
    from PIL import Image
    import numpy as np
    px = np.asarray(Image.open(shot).convert('L'))
    assert px.shape == (800, 1280) and px.std() > 10  # a real page, not a blank one
