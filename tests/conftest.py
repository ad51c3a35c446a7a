import os, sys, traceback
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT/'tools'))
os.environ.setdefault('BACKDOORPURE_PROGRESS', '0')

def cifar_available():
    from backdoorpure.data import data_root
    return (data_root()/'cifar10'/'MANIFEST.json').exists()

needs_cifar = pytest.mark.skipif(not cifar_available(), reason='no CIFAR-10 copy: set BACKDOORPURE_DATA (CI points it at ../shared/datasets)')

NEEDS_CIFAR = {'index.ipynb', '20_no_defense.ipynb', '21_fst.ipynb', '22_tsbd.ipynb', '23_nft.ipynb', '25_attacker_recipe.ipynb', '26_architectures.ipynb', '14_reproduce.ipynb'}

class NotebookRuns:
    "Each notebook executed at most once per test session, with outputs, into `folder`; the docs site is built from these copies."
    def __init__(self, folder): self.folder, self.errors = folder, {}
    def run(self, name): # a notebook file name in nbs/
        "None when the notebook ran top to bottom, else the traceback of its failing cell."
        if name not in self.errors:
            from build_site import execute  # tools/build_site.py
            try: execute(ROOT/'nbs'/name, self.folder/name); self.errors[name] = None
            except Exception: self.errors[name] = traceback.format_exc()[-4000:]
        return self.errors[name]

@pytest.fixture(scope='session')
def notebook_runs(tmp_path_factory):
    "The session's `NotebookRuns` (tests using it share one xdist group, so each notebook runs once)."
    return NotebookRuns(tmp_path_factory.mktemp('executed'))

@pytest.fixture
def cache(tmp_path, monkeypatch):
    "An empty user cache for the test."
    monkeypatch.setenv('BACKDOORPURE_CACHE', str(tmp_path/'cache'))
    return tmp_path/'cache'

if os.environ.get('PYTEST_XDIST_WORKER'):  # one intra-op thread per worker: two workers on two cores, not four threads
    import torch
    torch.set_num_threads(1)
