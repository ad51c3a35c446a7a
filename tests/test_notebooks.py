"Every notebook runs top to bottom as nbdev-test would, one pytest test each, so CI ends with pytest's summary; every scale file names only parameters of its notebook."
import pytest
from conftest import NEEDS_CIFAR, ROOT, cifar_available

NOTEBOOKS = sorted((ROOT/'nbs').glob('*.ipynb'))

@pytest.mark.xdist_group('notebooks')
@pytest.mark.parametrize('nb', NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_runs(nb, notebook_runs):
    if nb.name in NEEDS_CIFAR and not cifar_available(): pytest.skip('needs CIFAR-10 (set BACKDOORPURE_DATA)')
    error = notebook_runs.run(nb.name)
    assert error is None, f'{nb.name} failed (`nbdev-test {nb.relative_to(ROOT)}` reproduces it):\n{error}'

SCALES = sorted((ROOT/'nbs').glob('*.yaml'))

@pytest.mark.parametrize('scale', SCALES, ids=[p.name for p in SCALES])
def test_every_scale_file_sets_only_parameters_of_its_notebook(scale):
    "Papermill injects unknown keys silently, so a misspelt key in a scale file would change nothing; catch it here."
    import ast, json, yaml
    nb = ROOT/'nbs'/(scale.name.split('.')[0] + '.ipynb')
    cells = json.loads(nb.read_text())['cells']
    params = [c for c in cells if 'parameters' in c['metadata'].get('tags', [])]
    assert len(params) == 1, f'{nb.name} needs exactly one cell tagged "parameters"'
    names = {t.id for node in ast.parse(''.join(params[0]['source'])).body if isinstance(node, ast.Assign) for t in node.targets}
    unknown = set(yaml.safe_load(scale.read_text())) - names
    assert not unknown, f'{scale.name} sets {sorted(unknown)}, which {nb.name} does not define; known: {sorted(names)}'

def test_a_reproduction_notebook_runs_on_a_gtsrb_slice(tmp_path, cache):
    "GTSRB (43 classes, no flip, mean 0 and std 1, whole-track defender data) through the TSBD table's smoke scale: FT, FST, TSBD and NFT."
    from backdoorpure.data import data_root
    if not (data_root()/'gtsrb32'/'MANIFEST.json').exists(): pytest.skip('no GTSRB copy: set BACKDOORPURE_DATA (CI points it at ../shared/datasets)')
    import json, papermill as pm
    pm.execute_notebook(str(ROOT/'nbs'/'22_tsbd.ipynb'), str(tmp_path/'out.ipynb'), parameters=dict(dataset='gtsrb', out_dir=str(tmp_path/'out')),
                        cwd=str(ROOT/'nbs'), progress_bar=False)
    rows = [r for f in (tmp_path/'out'/'rows').glob('*.json') for r in json.loads(f.read_text())]
    assert {r['method'] for r in rows} == {'none', 'ft', 'fst', 'tsbd', 'nft'}
    assert all(r['clean_images'] == round(0.01 * 39209) and 0 <= r['asr'] <= 100 for r in rows)
