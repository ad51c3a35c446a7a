"The purify API over every registered defense, and FST on a real backdoored model."
import pytest, torch
from backdoorpure.data import load_dataset
from backdoorpure.defense import DEFENSES, defender_data, purify
from backdoorpure.models import create_model
from backdoorpure.zoo import backdoored_model

SHORT = {'tsbd': dict(ft_epochs=1, unlearn_lr=0.01, unlearn_threshold=0.3), 'nft': dict(rounds=1, steps_per_round=3)}  # others: epochs=1

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

def test_bad_defense_input_is_refused():
    syn = load_dataset('synthetic'); net = create_model('preact-resnet18', syn.info.num_classes, width=4)
    with pytest.raises(ValueError, match='clean set is empty'): purify(net, syn.train.subset([]), 'fst', device='cpu')
    with pytest.raises(ValueError, match='has 2 classes'): purify(create_model('preact-resnet18', 2, width=4), syn.train, 'fst', device='cpu')
    with pytest.raises(ValueError, match='no linear `head`'): purify(torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(768, 4)), syn.train, 'fst', device='cpu')
    with pytest.raises(FloatingPointError, match='loss became'): purify(net, syn.train, 'fst', dict(epochs=1, lr=float('inf')), device='cpu')
    with pytest.raises(KeyError, match='Known defenses'): purify(net, syn.train, 'fts', device='cpu')

@pytest.fixture(scope='module')
def real_backdoor(tmp_path_factory):
    "Fashion-MNIST (real images), Blended at 10%, width 8, 10 epochs, with a class-balanced 20% hold-out for the defender (1,200 images)."
    try: data = load_dataset('fashion-mnist')
    except FileNotFoundError as e: pytest.skip(str(e))
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv('BACKDOORPURE_CACHE', str(tmp_path_factory.mktemp('cache')))
        model, rec = backdoored_model('fashion-mnist', 'preact-resnet18', 'blended', 0.1, 0, 'cpu', 'cpu', width=8, train_images=6000,
                                      holdout=0.2, train_overrides=dict(epochs=10))
    assert rec['metrics']['asr'] >= 0.9
    return model, rec, data, defender_data(rec, data.train), rec['attack'].poison_test(data.test)

def test_fst_removes_a_real_backdoor_that_fine_tuning_keeps(real_backdoor):
    model, rec, data, clean, poisoned = real_backdoor
    _, fst = purify(model, clean, 'fst', test=data.test, poisoned=poisoned, device='cpu')
    _, ft = purify(model, clean, 'ft', test=data.test, poisoned=poisoned, device='cpu')
    # measured on an Intel Xeon: ASR 99.9% -> FT 73.0%, FST 8.7% with 2 threads, but FT 98.0%, FST 86.6% with 1 thread (CI's
    # workers): on a model this small the outcome flips with the CPU's kernels. So this asserts the direction, FST below FT;
    # the sharp cut is the cpu-scale tables' evidence (ResNet-18 w16, BadNets 10%: ASR 93.8% -> FST 1.4%).
    assert fst['asr'] <= ft['asr'] - 0.05, (fst['asr'], ft['asr'])
    assert fst['c_acc'] >= rec['metrics']['c_acc'] - 0.05, (fst['c_acc'], rec['metrics']['c_acc'])

def test_tsbd_cuts_a_real_backdoor(real_backdoor):
    model, rec, data, clean, poisoned = real_backdoor
    _, r = purify(model, clean, 'tsbd', test=data.test, poisoned=poisoned, device='cpu')
    # measured on an Intel Xeon: ASR 99.9% -> 62.6% (2 threads) and 80.2% (1 thread); at the cpu scale 93.8% -> 3.1%
    assert r['asr'] <= rec['metrics']['asr'] - 0.1 and r['c_acc'] >= rec['metrics']['c_acc'] - 0.05, (r['asr'], r['c_acc'], rec['metrics'])

def test_nft_cuts_a_real_backdoor(real_backdoor):
    model, rec, data, clean, poisoned = real_backdoor
    _, r = purify(model, clean, 'nft', test=data.test, poisoned=poisoned, device='cpu')
    # measured (Intel Xeon): ASR 99.9% -> 16.7%, C-Acc 87.5% -> 83.7% with the default 1,000 steps on 1,200 images
    assert r['asr'] <= 0.25 and r['c_acc'] >= rec['metrics']['c_acc'] - 0.05, (r['asr'], r['c_acc'], rec['metrics'])
