"Training and metrics on real computation."
import re
import pytest, torch
from backdoorpure.core import seed_everything
from backdoorpure.data import load_dataset, ImageSet
from backdoorpure.metrics import backdoor_metrics, der
from backdoorpure.models import create_model
from backdoorpure.train import RECIPES, TRAIN_RANGES, train, train_config, accuracy, predict, lr_factor
from conftest import needs_cifar

def fit(seed, **kw):
    s = load_dataset('synthetic'); seed_everything(seed)
    m = create_model('preact-resnet18', 4, width=8)
    # label smoothing 0.1, the cpu recipe's default when this was calibrated: at lr 0.1 plain cross-entropy reached 65% here
    hist, rec = train(m, s.train, train_config('cpu'), test=s.test, device='cpu', seed=seed, epochs=3, batch_size=64, lr=0.1,
                      label_smoothing=0.1, **kw)
    return m, hist, rec

def test_training_learns_and_is_deterministic():
    m1, hist, rec = fit(0)
    m2, _, _ = fit(0)
    assert hist[-1]['test_acc'] > 0.9 and hist[-1]['train_loss'] < hist[0]['train_loss']
    assert all(torch.equal(a, b) for a, b in zip(m1.state_dict().values(), m2.state_dict().values()))
    assert rec.seed == 0 and rec.torch_version == torch.__version__ and rec.wall_s > 0 and rec.config['recipe'] == 'cpu'

def test_recipes_and_unknown_keys():
    assert train_config('backdoorbench').lr == 0.01 and train_config('fast').batch_size == 512
    with pytest.raises(KeyError, match='Unknown config key'): fit(0, learning_rate=1)
    with pytest.raises(ValueError, match='empty'): train(create_model('resnet18', 4, 8), load_dataset('synthetic').train.subset([]), device='cpu')
    assert lr_factor(0, 100, 'cosine') == 1 and lr_factor(100, 100, 'cosine') == 0
    assert [lr_factor(s, 100, 'multistep', milestones=(40, 60)) for s in (39, 40, 60)] == pytest.approx([1, 0.1, 0.01])

@pytest.mark.parametrize('recipe', RECIPES)
def test_every_recipe_key_is_declared_and_its_defaults_pass(recipe):
    assert set(train_config(recipe)) <= set(TRAIN_RANGES)
    assert train_config(recipe) == train_config(recipe, {})
    for key, bad in [('epochs', 0), ('epochs', 2.5), ('lr', float('nan')), ('momentum', 1.0), ('dtype', 'fp8'), ('nesterov', 'yes')]:
        with pytest.raises(ValueError, match=f"training config key '{key}' must be .*, got {re.escape(repr(bad))}"): train_config(recipe, {key: bad})

@pytest.mark.parametrize('recipe', RECIPES)
def test_an_interrupted_run_resumes_to_the_weights_of_an_uninterrupted_one(recipe, tmp_path):
    s = load_dataset('synthetic'); kw = dict(epochs=4, batch_size=128, device='cpu', seed=3)
    if 'milestones' in RECIPES[recipe]: kw['milestones'] = (1, 3)
    def fresh(): seed_everything(3); return create_model('resnet18', 4, width=8)
    full = fresh(); h_full, _ = train(full, s.train, train_config(recipe), **kw)
    cut, calls = fresh(), []
    def crash(*_):
        calls.append(1)
        if len(calls) == 10: raise RuntimeError('killed')   # 4 batches an epoch: dies in the third epoch
    hook = cut.register_forward_hook(crash)
    with pytest.raises(RuntimeError, match='killed'): train(cut, s.train, train_config(recipe), checkpoint=tmp_path/'t.pt', checkpoint_every=1, **kw)
    hook.remove()
    assert len(torch.load(tmp_path/'t.pt', weights_only=True)['history']) == 2
    resumed = fresh(); h_res, rec = train(resumed, s.train, train_config(recipe), checkpoint=tmp_path/'t.pt', checkpoint_every=1, **kw)
    assert [r['train_loss'] for r in h_res] == [r['train_loss'] for r in h_full]
    assert rec.wall_s >= sum(r['seconds'] for r in h_res)   # the record counts the epochs read back too
    assert all(torch.equal(a, b) for a, b in zip(full.state_dict().values(), resumed.state_dict().values()))
    with pytest.raises(ValueError, match='another config'): train(fresh(), s.train, train_config(recipe), checkpoint=tmp_path/'t.pt', **dict(kw, seed=4))

def test_metrics_count_only_non_target_images_of_the_poisoned_set():
    s = load_dataset('synthetic')
    m, _, _ = fit(1)
    clean = s.test
    pred = predict(m, clean)
    target = 2
    res = backdoor_metrics(m, clean, clean, target)  # "poisoned" set without a trigger: ASR = non-target images called 2
    keep = clean.y != target
    assert res['c_acc'] == pytest.approx((pred == clean.y).float().mean().item())
    assert res['asr'] == pytest.approx((pred[keep] == target).float().mean().item())
    assert res['ra'] == pytest.approx((pred[keep] == clean.y[keep]).float().mean().item())
    with pytest.raises(ValueError, match='no image outside the target class'): backdoor_metrics(m, clean, clean.subset((clean.y == 2).nonzero().flatten()), 2)

def test_der_matches_its_definition():
    assert der(dict(c_acc=0.93, asr=1.0), dict(c_acc=0.90, asr=0.0)) == pytest.approx((1 - 0.03 + 1) / 2)
    assert der(dict(c_acc=0.9, asr=0.2), dict(c_acc=0.8, asr=0.9)) == pytest.approx((0 - 0.1 + 1) / 2)

@needs_cifar
def test_small_model_learns_real_cifar10():
    s = load_dataset('cifar10'); seed_everything(0)
    m = create_model('preact-resnet18', 10, width=8)
    train(m, s.train.subset(range(8000)), train_config('cpu'), epochs=1, device='cpu')
    assert accuracy(m, s.test) > 0.3  # chance is 0.1
