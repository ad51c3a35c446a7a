"""Build the documentation site into _docs/ without Quarto, and README.md from nbs/index.ipynb.

Each notebook listed in nbs/sidebar.yml is executed (cells nbdev-test would skip stay unexecuted), processed by
nbdev's own documentation processors (show_doc, hidden cells, directives, frontmatter) and rendered by pandoc
(from pypandoc-binary) into a page with the sidebar of nbs/sidebar.yml. Users with Quarto run `nbdev-docs` instead.

    python tools/build_site.py                                   # _docs/ and README.md
    python tools/build_site.py --readme                          # README.md only
    python tools/build_site.py --screenshot figures/docs_landing.png  # also photograph the landing page

The tests execute every notebook once (tests/conftest.py) and build the site from those executed copies.
"""
import argparse, html, re, shutil, subprocess, sys, tempfile
from pathlib import Path
import yaml, pypandoc
from fastcore.nbio import read_nb, write_nb
from fastcore.xtras import modified_env, working_directory
from execnb.shell import CaptureShell
from nbdev.config import get_config
from nbdev.process import NBProcessor
from nbdev.processors import FilterDefaults
from nbdev.test import _skip_cell

ROOT = Path(__file__).resolve().parents[1]
NBS, DOCS = ROOT/'nbs', ROOT/'_docs'

TEMPLATE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>$pagetitle$ – backdoorpure</title>
<link rel="stylesheet" href="site.css">
</head><body>
<nav id="sidebar"><a class="brand" href="index.html">backdoorpure</a>
$sidebar$
</nav>
<main id="content">
<header><h1 class="title">$title$</h1>$if(description)$<p class="description">$description$</p>$endif$</header>
$if(toc)$<nav id="toc"><h2>On this page</h2>$toc$</nav>$endif$
$body$
</main></body></html>
"""

CSS = """body{margin:0;font-family:'DejaVu Sans',system-ui,sans-serif;line-height:1.5;color:#222;display:flex}
#sidebar{width:240px;min-height:100vh;padding:1rem;background:#f4f6f8;border-right:1px solid #dde;flex-shrink:0}
#sidebar .brand{display:block;font-weight:bold;font-size:1.2rem;margin-bottom:1rem;color:#1a4e8a;text-decoration:none}
#sidebar .section{margin-top:1rem;font-weight:bold;color:#555;text-transform:uppercase;font-size:.8rem}
#sidebar a.page{display:block;padding:.15rem .5rem;color:#1a4e8a;text-decoration:none;border-radius:4px}
#sidebar a.page.active{background:#1a4e8a;color:#fff}
#content{padding:1rem 2rem;max-width:60rem;min-width:0}
.description{font-size:1.1rem;color:#555}
pre{background:#f6f8fa;padding:.6rem;overflow-x:auto;border-radius:4px}
code{font-family:'DejaVu Sans Mono',monospace;font-size:.9em}
table{border-collapse:collapse;margin:1rem 0}td,th{border:1px solid #ccd;padding:.25rem .5rem}
img{max-width:100%}#toc{float:right;margin:0 0 1rem 1rem;padding:.5rem 1rem;background:#fafafa;border:1px solid #eee;font-size:.85rem;max-width:16rem}
#toc h2{font-size:.9rem;margin:0}
"""

def sidebar_entries():
    "(section or None, notebook file name) pairs in the order of nbs/sidebar.yml."
    contents = yaml.safe_load((NBS/'sidebar.yml').read_text())['website']['sidebar']['contents']
    out = []
    for item in contents:
        if isinstance(item, str): out.append((None, item))
        else: out += [(item['section'], f) for f in item.get('contents') or []]
    return out

def execute(fn: Path, dest: Path):
    "Run the notebook `fn` as nbdev-test would (its skip flags, IN_TEST set) and write it, with outputs, to `dest`; raises on a failing cell."
    nb = NBProcessor(fn, rm_directives=False, process=True).nb
    shell = CaptureShell(fn)
    with working_directory(fn.parent), modified_env(IN_TEST='1'):  # the notebook's own environment changes end with it
        shell.run_all(nb, exc_stop=True, preproc=_skip_cell(nb, get_config().tst_flags.split()))
    for c in nb.cells: c.pop('directives_', None)
    write_nb(nb, dest)

DIRECTIVE = re.compile(r'^#\|\s*(.*)$', re.M)

def quarto_cell_options(nb):
    "Do what Quarto would with `echo: false` and `output: asis`: show only the output, as markdown; drop directive lines."
    for c in nb.cells:
        if c.cell_type != 'code': continue
        opts = {o.split(':')[0].strip(): o.split(':', 1)[-1].strip() for o in DIRECTIVE.findall(c.source)}
        c.source = DIRECTIVE.sub('', c.source).strip()
        if opts.get('echo') == 'false':
            data = next((o.get('data', {}) for o in c.get('outputs', []) if o.get('data')), {})
            md = data.get('text/markdown') or (f"```\n{data['text/plain']}\n```" if 'text/plain' in data else '')
            md = re.sub(r'\)\{target="_blank"[^}]*\}', ')', ''.join(md))  # Quarto link attributes pandoc's reader shows as text
            c.cell_type, c.source, c.metadata = 'markdown', md, {}
            for k in ('outputs', 'execution_count'): c.pop(k, None)

def process(src: Path, dest: Path):
    "Apply nbdev's documentation processors to the executed notebook `src`, then Quarto's cell options."
    nb = read_nb(src)
    FilterDefaults()(nb)
    quarto_cell_options(nb)
    write_nb(nb, dest)
    return nb

def front_matter(nb):
    "Title and description from the processed notebook's frontmatter cell."
    for c in nb.cells:
        if c.cell_type == 'raw' and c.source.startswith('---'):
            fm = yaml.safe_load(c.source.strip().strip('-')) or {}
            return fm.get('title', ''), fm.get('description', '')
    return '', ''

def sidebar_html(entries, titles, current):
    "The sidebar's HTML, with `current` highlighted."
    parts, section = [], object()
    for sec, f in entries:
        if sec != section and sec is not None: parts.append(f'<div class="section">{html.escape(sec)}</div>')
        section = sec
        page = Path(f).stem + '.html'
        cls = 'page active' if f == current else 'page'
        parts.append(f'<a class="{cls}" href="{page}">{html.escape(titles[f])}</a>')
    return '\n'.join(parts)

def fix_links(text):
    "Point links to sibling notebooks at their rendered pages."
    return re.sub(r'href="([\w.-]+)\.ipynb(#[^"]*)?"', lambda m: f'href="{m.group(1)}.html{m.group(2) or ""}"', text)

def readme_text(work):
    "README.md from the processed index notebook, without outputs, so that it only changes when the notebook does."
    nb = read_nb(work/'index.ipynb')
    for c in nb.cells:
        if c.cell_type == 'code': c.outputs = []
    write_nb(nb, work/'readme.ipynb')
    body = pypandoc.convert_file(str(work/'readme.ipynb'), 'gfm', format='ipynb', extra_args=['--wrap=none'])
    body = re.sub(r'^---\n.*?\n---\n', '', body, flags=re.S)
    body = re.sub(r'</?div[^>]*>|<!-- WARNING.*?-->', '', body)
    title, desc = front_matter(nb)
    text = f'<!-- Generated from nbs/index.ipynb by tools/build_site.py; do not edit. -->\n# {title}\n\n> {desc}\n\n{body.strip()}\n'
    return re.sub(r'\n{3,}', '\n\n', text)

def build(readme_only=False, executed=None):
    "Write README.md and (unless `readme_only`) _docs/; notebooks already executed into the folder `executed` are not run again."
    entries = sidebar_entries()
    files = [f for _, f in entries] if not readme_only else ['index.ipynb']
    work = Path(tempfile.mkdtemp(prefix='bp-site-'))
    processed, titles = {}, {}
    for f in files:
        ran = Path(executed)/f if executed else None
        if ran is None or not ran.exists():
            print(f'executing {f}', flush=True)
            ran = work/f'exec_{f}'; execute(NBS/f, ran)
        nb = process(ran, work/f)
        processed[f] = nb; titles[f] = front_matter(nb)[0] or Path(f).stem
    (ROOT/'README.md').write_text(readme_text(work))
    if readme_only: return
    if DOCS.exists(): shutil.rmtree(DOCS)
    DOCS.mkdir()
    (work/'template.html').write_text(TEMPLATE)
    (DOCS/'site.css').write_text(CSS)
    for f in files:
        title, desc = front_matter(processed[f])
        out = DOCS/(Path(f).stem + '.html')
        page = pypandoc.convert_file(str(work/f), 'html5', format='ipynb', extra_args=[
            '--standalone', f'--template={work/"template.html"}', '--toc', '--toc-depth=2', '--embed-resources=false',
            f'--extract-media={DOCS/"media"/Path(f).stem}', '--metadata', f'title={titles[f]}', '--metadata', f'pagetitle={titles[f]}',
            '--variable', f'description={desc}', '--variable', f'sidebar={sidebar_html(entries, titles, f)}', '--syntax-highlighting=pygments'])
        out.write_text(fix_links(page.replace(str(DOCS) + '/', '')))
        print(f'wrote {out.relative_to(ROOT)}')
    shutil.rmtree(work)

CHROMIUM_FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
                  '--disable-background-networking', '--disable-component-update', '--disable-sync']

def chromium(url, *args):
    "Run headless Chromium on `url` with a fresh profile (flags that keep it off the closed network); returns stdout."
    exe = shutil.which('chromium') or shutil.which('chromium-browser') or shutil.which('google-chrome')
    if exe is None: raise FileNotFoundError('Chromium not found: `apt-get install -y chromium fonts-dejavu-core`.')
    with tempfile.TemporaryDirectory() as profile:
        r = subprocess.run([exe, *CHROMIUM_FLAGS, f'--user-data-dir={profile}', '--window-size=1280,800', *args, url],
                           capture_output=True, text=True, timeout=120)
    if r.returncode != 0: raise RuntimeError(f'Chromium failed on {url}: {r.stderr[-2000:]}')
    return r.stdout

if __name__ == '__main__':
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--readme', action='store_true', help='only regenerate README.md from nbs/index.ipynb')
    p.add_argument('--screenshot', default=None, help='write a PNG of the landing page here')
    a = p.parse_args()
    build(readme_only=a.readme)
    if a.screenshot: chromium((DOCS/'index.html').as_uri(), f'--screenshot={Path(a.screenshot).resolve()}')
