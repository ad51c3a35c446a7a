"Every notebook runs top to bottom as nbdev-test would, one pytest test each, so CI ends with pytest's summary; every scale file names only parameters of its notebook."
import json
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

def test_every_reproduction_table_runs_on_a_gtsrb_slice(tmp_path, cache):
    "GTSRB (43 classes, no flip, mean 0 and std 1, whole-track defender data) through `reproduce --datasets gtsrb` at the smoke scale: all four tables."
    from backdoorpure.data import data_root
    if not (data_root()/'gtsrb32'/'MANIFEST.json').exists(): pytest.skip('no GTSRB copy: set BACKDOORPURE_DATA (CI points it at ../shared/datasets)')
    from backdoorpure.reproduce import TABLES, reproduce
    rep, summary = reproduce(None, 'smoke', out=tmp_path, datasets=['gtsrb'])
    assert summary['notebooks'] == [f'{t} on gtsrb seeds [0]' for t in TABLES]
    rows = rep[rep.seeds > 0]
    assert set(rows.scale) == {'smoke-gtsrb'} and set(rows.table) == set(TABLES)
    assert set(rows[rows.table == 'tsbd'].method) == {'none', 'ft', 'fst', 'tsbd', 'nft'}
    assert rows.asr.between(0, 100).all() and rows.c_acc.between(0, 100).all()
    tsbd = [r for f in (tmp_path/'tsbd'/'smoke-gtsrb'/'rows').glob('*.json') for r in json.loads(f.read_text())]
    assert all(r['clean_images'] == round(0.01 * 39209) for r in tsbd)   # the smoke share of the whole GTSRB, drawn by whole tracks
    nd = rep[(rep.table == 'no_defense') & (rep.scale == 'smoke-gtsrb')].set_index('attack')
    assert nd.loc['badnets', 'published_asr'] == 59.25                    # judged against BackdoorBench's GTSRB row, not CIFAR-10's
