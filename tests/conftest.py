import os
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault('BACKDOORPURE_PROGRESS', '0')

def cifar_available():
    from backdoorpure.data import data_root
    return (data_root()/'cifar10'/'MANIFEST.json').exists()

needs_cifar = pytest.mark.skipif(not cifar_available(), reason='no CIFAR-10 copy: set BACKDOORPURE_DATA (CI points it at ../shared/datasets)')

@pytest.fixture
def cache(tmp_path, monkeypatch):
    "An empty user cache for the test."
    monkeypatch.setenv('BACKDOORPURE_CACHE', str(tmp_path/'cache'))
    return tmp_path/'cache'

if os.environ.get('PYTEST_XDIST_WORKER'):  # one intra-op thread per worker: two workers on two cores, not four threads
    import torch
    torch.set_num_threads(1)
