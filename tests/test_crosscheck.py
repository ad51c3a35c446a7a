"The cross-check harness (tools/crosscheck.py): its key map, its refusal of wrong checkouts, and, given official checkouts, a smoke run."
import os
from pathlib import Path
import pytest
import torch
from conftest import needs_cifar
import crosscheck as cc
from backdoorpure.interop import _rename
from backdoorpure.models import create_model

OFFICIAL = os.environ.get('BACKDOORPURE_OFFICIAL')  # a folder holding checkouts named fst, tsbd, backdoorbench and nft
REPOS = {k: Path(OFFICIAL)/k for k in ('fst', 'tsbd', 'backdoorbench', 'nft')} if OFFICIAL else {}
needs_official = pytest.mark.skipif(not OFFICIAL, reason='no official checkouts: set BACKDOORPURE_OFFICIAL to a folder with fst, tsbd, backdoorbench and nft')

def test_key_map_is_one_to_one_and_the_inverse_of_the_backdoorbench_reader():
    keys = list(create_model('resnet18', 10, 16).state_dict())
    official = [cc.to_official(k) for k in keys]
    assert len(set(official)) == len(keys) and 'linear.weight' in official and 'conv1.weight' in official and 'bn1.running_var' in official
    assert all(_rename(o, 'resnet18') == k for o, k in zip(official, keys))
    state = cc.official_state(create_model('resnet18', 10, 16))
    assert list(cc.from_official(state)) == keys

def test_a_wrong_checkout_is_refused_with_the_file_it_lacks(tmp_path, capsys):
    with pytest.raises(SystemExit, match='needs --nft PATH'): cc.check_repos({'nft': None}, ['nft'])
    with pytest.raises(SystemExit, match='has no fine_tune/ft.py'): cc.check_repos({'fst': tmp_path}, ['fst'])
    with pytest.raises(SystemExit): cc.main(['--methods', 'fst,anp'])
    assert 'unknown methods' in capsys.readouterr().err

@needs_official
@pytest.mark.parametrize('repo,module', [('fst', 'models/resnet.py'), ('nft', 'src/networks/network_cifar10.py')])
def test_our_weights_load_strictly_into_the_official_class_and_give_the_same_logits(repo, module):
    import importlib.util, sys
    if repo == 'nft': sys.path.insert(0, str(REPOS['nft']/'src'))
    spec = importlib.util.spec_from_file_location(f'official_{repo}', REPOS[repo]/module)
    mod = importlib.util.module_from_spec(spec); spec.loader.exec_module(mod)
    torch.manual_seed(0)
    ours = create_model('resnet18', 10, 16)
    for m in ours.modules():  # statistics that are not the identity, so that a BatchNorm mapped to the wrong place shows
        if isinstance(m, torch.nn.BatchNorm2d): m.running_mean.uniform_(-0.5, 0.5); m.running_var.uniform_(0.5, 2)
    extra = dict(_BN_layer=torch.nn.BatchNorm2d) if repo == 'nft' else {}
    theirs = cc.build_resnet18(mod, 16, 10, **extra)
    theirs.load_state_dict(cc.official_state(ours), strict=True)
    x = torch.randn(4, 3, 32, 32)
    torch.testing.assert_close(theirs.eval()(x), ours.eval()(x), atol=1e-5, rtol=1e-4)

@needs_official
@needs_cifar
def test_harness_runs_every_method_at_smoke_scale_and_resumes(tmp_path, cache):
    docs = cc.crosscheck({k: v.resolve() for k, v in REPOS.items()}, 'smoke', tmp_path, threads=1)
    assert set(docs) == {'fst', 'tsbd', 'nft'}
    for m, doc in docs.items():
        (row,) = doc['rows']
        assert doc['patches'] and doc['deviations'] and len(doc['official_commit']) == 40
        assert row['verdict'] in ('agrees', 'differs') and row['official']['seconds'] > 0
        assert 0 <= row['official']['asr'] <= 100 and row['clean_images'] == 200
    mtimes = {p: p.stat().st_mtime_ns for p in tmp_path.glob('*.json')}
    cc.crosscheck({k: v.resolve() for k, v in REPOS.items()}, 'smoke', tmp_path, threads=1)  # every row present: nothing runs
    assert {p: p.stat().st_mtime_ns for p in tmp_path.glob('*.json')} == mtimes

@needs_official
@needs_cifar
def test_our_fst_replays_the_official_fst_step_by_step():
    "Fed the official head, batches and order, our FST's weights stay at float rounding from the official code's after every step."
    import fst_trace
    r = fst_trace.trace({'fst': REPOS['fst'].resolve()}, 'smoke', 'badnets', seed=1, threads=1, epochs=3)
    assert r['steps'] == 6 and len(r['max_abs_diff_per_step']) == 6
    assert max(r['max_abs_diff_per_step']) < 1e-5, r['max_abs_diff_per_step']  # weights are O(0.1); float32 rounding is 1e-7
    assert abs(r['official']['c_acc'] - r['ours_on_official_batches']['c_acc']) <= 0.5
