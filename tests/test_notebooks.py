"Every notebook runs top to bottom as nbdev-test would, one pytest test each, so CI ends with pytest's summary."
import pytest
from conftest import NEEDS_CIFAR, ROOT, cifar_available

NOTEBOOKS = sorted((ROOT/'nbs').glob('*.ipynb'))

@pytest.mark.xdist_group('notebooks')
@pytest.mark.parametrize('nb', NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_runs(nb, notebook_runs):
    if nb.name in NEEDS_CIFAR and not cifar_available(): pytest.skip('needs CIFAR-10 (set BACKDOORPURE_DATA)')
    error = notebook_runs.run(nb.name)
    assert error is None, f'{nb.name} failed (`nbdev-test {nb.relative_to(ROOT)}` reproduces it):\n{error}'
