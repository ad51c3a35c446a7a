"Models: every registered architecture, its uniform feature/head split, width scaling and safe checkpoints."
import json, pytest, torch
from backdoorpure.models import MODELS, create_model, save_checkpoint, load_checkpoint, load_state_dict_file

@pytest.mark.parametrize('arch', sorted(MODELS))
def test_forward_split_and_grey_input(arch):
    m = create_model(arch, num_classes=5, width=8).eval()
    x = torch.randn(3, 3, 32, 32)
    with torch.no_grad():
        feats = m.features(x)
        assert feats.shape == (3, m.head.in_features) and torch.equal(m.head(feats), m(x))
    assert isinstance(m.head, torch.nn.Linear) and m.head.out_features == 5
    assert create_model(arch, 10, 8, in_channels=1)(torch.randn(2, 1, 28, 28)).shape == (2, 10)

@pytest.mark.parametrize('arch', sorted(MODELS))
def test_width_scales_parameters_quadratically(arch):
    n = lambda w: sum(p.numel() for p in create_model(arch, 10, w).features.parameters())
    assert 14 < n(64) / n(16) < 17  # convolutions dominate: 4x the width, about 16x the weights

@pytest.mark.parametrize('arch', sorted(MODELS))
def test_checkpoint_round_trip_is_exact(arch, tmp_path):
    m = create_model(arch, 10, 8)
    m.train()(torch.randn(4, 3, 32, 32))  # move BatchNorm statistics away from their initial values
    save_checkpoint(m, tmp_path/'ck', dataset='synthetic', metrics={'c_acc': 0.1})
    m2, meta = load_checkpoint(tmp_path/'ck.safetensors', arch=arch, num_classes=10)
    assert all(torch.equal(a, b) for a, b in zip(m.state_dict().values(), m2.state_dict().values()))
    assert meta['model'] == dict(arch=arch, num_classes=10, width=8, in_channels=3) and meta['dataset'] == 'synthetic'

def test_mismatched_or_tampered_checkpoints_are_refused(tmp_path):
    save_checkpoint(create_model('preact-resnet18', 10, 8), tmp_path/'ck')
    with pytest.raises(ValueError, match="holds a 'preact-resnet18' model, not the 'vgg19-bn'"): load_checkpoint(tmp_path/'ck', arch='vgg19-bn')
    with pytest.raises(ValueError, match='has 10 classes, not the 43'): load_checkpoint(tmp_path/'ck', num_classes=43)
    side = json.loads((tmp_path/'ck.json').read_text()); side['model']['width'] = 16
    (tmp_path/'ck.json').write_text(json.dumps(side))
    with pytest.raises(ValueError, match='does not fit'): load_checkpoint(tmp_path/'ck')  # sidecar lies about the shape
    raw = bytearray((tmp_path/'ck.safetensors').read_bytes()); raw[-1] ^= 1; (tmp_path/'ck.safetensors').write_bytes(bytes(raw))
    with pytest.raises(ValueError, match='corrupt or were replaced'): load_checkpoint(tmp_path/'ck')
    (tmp_path/'ck.json').unlink()
    with pytest.raises(FileNotFoundError, match='sidecar'): load_checkpoint(tmp_path/'ck')

class Payload:
    "Unpickling this would call os.system; weights_only loading must refuse it."
    def __reduce__(self):
        import os
        return (os.system, ('echo pwned > /dev/null',))

def test_state_dict_files_never_unpickle_code(tmp_path):
    m = create_model('resnet18', 10, 8)
    torch.save(m.state_dict(), tmp_path/'ok.pt')
    m2 = load_state_dict_file(tmp_path/'ok.pt', 'resnet18', 10, 8)
    assert all(torch.equal(a, b) for a, b in zip(m.state_dict().values(), m2.state_dict().values()))
    torch.save({'w': torch.zeros(1), 'evil': Payload()}, tmp_path/'evil.pt')
    with pytest.raises(ValueError, match='refusing to unpickle'): load_state_dict_file(tmp_path/'evil.pt', 'resnet18', 10, 8)
    with pytest.raises(ValueError, match='does not fit a resnet18 with 100 classes'): load_state_dict_file(tmp_path/'ok.pt', 'resnet18', 100, 8)

def test_bad_arguments():
    with pytest.raises(KeyError, match='Known models: preact-resnet18, resnet18, vgg19-bn'): create_model('vit')
    with pytest.raises(ValueError, match='num_classes'): create_model('resnet18', num_classes=1)
