"The purify API over every registered defense, and FST on a real backdoored model."
import re
import pytest, torch
from backdoorpure.data import load_dataset
from backdoorpure.defense import DEFENSES, defense_config, defender_data, purify
from backdoorpure.models import create_model
from backdoorpure.zoo import backdoored_model

SHORT = {'tsbd': dict(ft_epochs=1, unlearn_lr=0.01, unlearn_threshold=0.3), 'nft': dict(rounds=1, steps_per_round=3), 'clp': dict(u=1.0),
         'nad': dict(teacher_epochs=1, epochs=1), 'anp': dict(iterations=3, batch_size=64, prune_threshold=0.99),
         'rnp': dict(unlearn_epochs=1, recover_epochs=1, prune_threshold=1.0),
         'i-bau': dict(rounds=1, K=2, batch_size=128)}  # others: epochs=1

@pytest.mark.parametrize('method', DEFENSES.names())
def test_every_defense_returns_a_new_model_and_leaves_the_input_alone(method):
    syn = load_dataset('synthetic'); torch.manual_seed(0)
    net = create_model('preact-resnet18', syn.info.num_classes, width=4)
    state = {k: v.clone() for k, v in net.state_dict().items()}
    new, rep = purify(net, syn.train.first(256), method, SHORT.get(method, dict(epochs=1)), test=syn.test, poisoned=syn.test, device='cpu', seed=0)
    assert new is not net and all(torch.equal(v, net.state_dict()[k]) for k, v in state.items())
    assert any(not torch.equal(a, b) for a, b in zip(new.state_dict().values(), net.state_dict().values()))
    assert {'c_acc', 'asr', 'ra', 'der', 'seconds', 'device', 'seed', 'config', 'before'} <= set(rep) and 0 <= rep['der'] <= 1
    again, rep2 = purify(net, syn.train.first(256), method, SHORT.get(method, dict(epochs=1)), test=syn.test, poisoned=syn.test, device='cpu', seed=0)
    assert all(torch.equal(a, b) for a, b in zip(new.state_dict().values(), again.state_dict().values()))  # seeded

@pytest.mark.skipif(not torch.ops.mkldnn._is_mkldnn_bf16_supported(), reason='this CPU cannot run bf16')
@pytest.mark.parametrize('method', DEFENSES.names())
def test_every_defense_runs_in_bf16_with_fp32_parameters(method):
    "Under bf16 autocast the defense still changes the model, reports bf16, and leaves every weight and buffer in fp32."
    syn = load_dataset('synthetic'); torch.manual_seed(0)
    net = create_model('preact-resnet18', syn.info.num_classes, width=4)
    new, rep = purify(net, syn.train.first(256), method, SHORT.get(method, dict(epochs=1)), test=syn.test, poisoned=syn.test, device='cpu', dtype='bf16')
    assert rep['dtype'] == 'bf16' and 0 <= rep['asr'] <= 1
    assert {v.dtype for v in new.state_dict().values() if v.is_floating_point()} == {torch.float32}
    assert any(not torch.equal(a, b) for a, b in zip(new.state_dict().values(), net.state_dict().values()))
    assert all(torch.isfinite(v).all() for v in new.state_dict().values() if v.is_floating_point())

@pytest.mark.parametrize('method', DEFENSES.names())
def test_every_defense_key_is_declared_and_checked(method):
    fn = DEFENSES.get(method)
    assert set(fn.ranges) == set(fn.defaults), sorted(set(fn.ranges) ^ set(fn.defaults))
    assert defense_config(method) == fn.defaults  # the defaults lie in their own ranges
    for key, default in fn.defaults.items():
        bad = 'abc' if isinstance(default, (int, float)) else [1]
        with pytest.raises(ValueError, match=f"{method} config key '{key}' must be .*, got {re.escape(repr(bad))}"): defense_config(method, **{key: bad})

def test_bad_defense_input_is_refused():
    syn = load_dataset('synthetic'); net = create_model('preact-resnet18', syn.info.num_classes, width=4)
    with pytest.raises(ValueError, match='clean set is empty'): purify(net, syn.train.subset([]), 'fst', device='cpu')
    with pytest.raises(ValueError, match='has 2 classes'): purify(create_model('preact-resnet18', 2, width=4), syn.train, 'fst', device='cpu')
    with pytest.raises(ValueError, match='no linear `head`'): purify(torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(768, 4)), syn.train, 'fst', device='cpu')
    with pytest.raises(FloatingPointError, match='loss became'): purify(net, syn.train, 'fst', dict(epochs=1, lr=1e30), device='cpu')
    with pytest.raises(KeyError, match='Known defenses'): purify(net, syn.train, 'fts', device='cpu')
    with pytest.raises(ValueError, match="fst config key 'alpha' must be a finite number >= 0, got 'abc'"): purify(net, syn.train, 'fst', {'alpha': 'abc'}, device='cpu')
    with pytest.raises(ValueError, match="fst config key 'epochs' must be an integer >= 1, got 1.5"): purify(net, syn.train, 'fst', {'epochs': 1.5}, device='cpu')

def fashion_backdoor(tmp_path_factory, attack):
    "Fashion-MNIST (real images), `attack` at 10%, width 8, 10 epochs, with a class-balanced 20% hold-out for the defender (1,200 images)."
    try: data = load_dataset('fashion-mnist')
    except FileNotFoundError as e: pytest.skip(str(e))
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv('BACKDOORPURE_CACHE', str(tmp_path_factory.mktemp('cache')))
        model, rec = backdoored_model('fashion-mnist', 'preact-resnet18', attack, 0.1, 0, 'cpu', 'cpu', width=8, train_images=6000,
                                      holdout=0.2, train_overrides=dict(epochs=10, label_smoothing=0.1))
    assert rec['metrics']['asr'] >= 0.9
    return model, rec, data, defender_data(rec, data.train), rec['attack'].poison_test(data.test)

@pytest.fixture(scope='module')
def real_badnets(tmp_path_factory): return fashion_backdoor(tmp_path_factory, 'badnets')

@pytest.fixture(scope='module')
def real_blended(tmp_path_factory): return fashion_backdoor(tmp_path_factory, 'blended')

# On models this small the outcome depends on the attack and on the CPU's kernels (CI's workers use 1 thread). Measured
# on an Intel Xeon with 1 thread: BadNets 99.6% ASR -> FT 73.8%, FST 10.6%, TSBD 4.2%, NFT 55.4%; Blended 100% -> FT 98.0%,
# FST 86.6%, TSBD 85.3% (NFT 16.7%, measured in an earlier session). Each method is tested on the fixture where it removes
# the backdoor at this size; the cpu-scale tables (results/*/cpu) are the evidence across attacks, failures included.
# The fixtures' attacker trains with label smoothing 0.1, the cpu recipe's default when these figures were measured. With
# plain cross-entropy (the default since the attacker-recipe ablation) CI measured on the BadNets model (2 workers, 1 thread
# each, Intel Xeon): FST 40.8% ASR, FT 95.5%, TSBD 16.0%, so at this size FST's outcome depends on the attacker's recipe
# the other way round from the cpu scale, where label smoothing is what defeats it. All these figures were measured in
# fp32, so the tests pin it (under dtype 'auto' a CPU with AMX or AVX512-BF16 would run the defenses in bf16).

def test_fst_removes_a_real_backdoor_that_fine_tuning_keeps(real_badnets):
    model, rec, data, clean, poisoned = real_badnets
    _, fst = purify(model, clean, 'fst', test=data.test, poisoned=poisoned, device='cpu', dtype='fp32')
    _, ft = purify(model, clean, 'ft', test=data.test, poisoned=poisoned, device='cpu', dtype='fp32')
    # measured: C-Acc 87.1% -> FST 85.2% (1 thread); with 2 threads ASR 99.9% -> FT 82.9%, FST 6.9% (C-Acc 85.8% -> 85.1%)
    assert fst['asr'] <= 0.2 and ft['asr'] >= fst['asr'] + 0.3, (fst['asr'], ft['asr'])
    assert fst['c_acc'] >= rec['metrics']['c_acc'] - 0.05, (fst['c_acc'], rec['metrics']['c_acc'])

def test_tsbd_cuts_a_real_backdoor(real_badnets):
    model, rec, data, clean, poisoned = real_badnets
    _, r = purify(model, clean, 'tsbd', test=data.test, poisoned=poisoned, device='cpu', dtype='fp32')
    # measured: C-Acc 87.1% -> 81.3% (1 thread; the clean-data rule chose n 0.5): a larger cost than at the cpu scale
    # (1.4 to 4.6 points), hence the 8-point bound; not measured with 2 threads
    assert r['asr'] <= 0.15 and r['c_acc'] >= rec['metrics']['c_acc'] - 0.08, (r['asr'], r['c_acc'], rec['metrics'])

def test_nft_cuts_a_real_backdoor(real_blended):
    model, rec, data, clean, poisoned = real_blended
    _, r = purify(model, clean, 'nft', test=data.test, poisoned=poisoned, device='cpu', dtype='fp32')
    # measured: C-Acc 87.5% -> 83.7% with the default 1,000 steps on 1,200 images
    assert r['asr'] <= 0.25 and r['c_acc'] >= rec['metrics']['c_acc'] - 0.05, (r['asr'], r['c_acc'], rec['metrics'])
