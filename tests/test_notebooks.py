"Every notebook runs top to bottom as nbdev-test would, one pytest test each, so CI ends with pytest's summary."
import pytest
from nbdev.test import test_nb as run_notebook  # renamed so pytest does not collect it
from conftest import ROOT, cifar_available

NOTEBOOKS = sorted((ROOT/'nbs').glob('*.ipynb'))
NEEDS_CIFAR = {'index.ipynb', '20_no_defense.ipynb', '21_fst.ipynb', '22_tsbd.ipynb', '23_nft.ipynb'}

@pytest.mark.parametrize('nb', NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_runs(nb):
    if nb.name in NEEDS_CIFAR and not cifar_available(): pytest.skip('needs CIFAR-10 (set BACKDOORPURE_DATA)')
    ok, secs = run_notebook(nb, skip_flags=['notest', 'slow', 'cuda'], basepath=ROOT)
    assert ok, f'{nb.name} failed; run `nbdev-test {nb.relative_to(ROOT)}` to see the traceback'
