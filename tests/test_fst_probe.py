"The FST probe's measurements (tools/fst_arch_probe.py): stages, feature-level ASR and per-quarter weight change, against hand computations."
import copy
import pytest
import torch
from torch import nn
import fst_arch_probe as fp
from backdoorpure.data import ImageSet, DATASETS
from backdoorpure.models import create_model

@pytest.mark.parametrize('arch,n', [('vgg19-bn', 5), ('preact-resnet18', 4), ('resnet18', 4)])
def test_stage_features_are_one_pooled_vector_per_stage(arch, n):
    torch.manual_seed(0)
    m = create_model(arch, 10, width=4)
    x = torch.randint(0, 256, (6, 3, 32, 32), dtype=torch.uint8)
    data = ImageSet(x, torch.zeros(6, dtype=torch.long), DATASETS.get('cifar10').info, torch.arange(6))
    feats = fp.stage_features(m, data)
    assert len(fp.stages(m)) == n and [f.shape[0] for f in feats] == [6] * n
    assert torch.allclose(feats[-1], fp.penultimate(m, data), atol=1e-5)  # the last stage, pooled, is what the head reads

def test_feature_asr_counts_the_images_nearest_the_target_mean():
    clean = torch.tensor([[0., 0.], [0., 2.], [10., 0.], [10., 2.]]); y = torch.tensor([0, 0, 1, 1])  # means (0, 1) and (10, 1)
    poisoned = torch.tensor([[9., 1.], [1., 1.], [6., 0.], [4., 5.]])
    assert fp.feature_asr(poisoned, clean, y, target=1) == 0.5 and fp.feature_asr(poisoned, clean, y, target=0) == 0.5

def test_conv_change_is_zero_for_the_same_weights_and_local_to_the_changed_quarter():
    torch.manual_seed(0)
    m = create_model('vgg19-bn', 10, width=4); t = copy.deepcopy(m)
    assert fp.conv_change(m, t) == [0.0] * 4
    with torch.no_grad(): t.features[0].weight.mul_(2)  # the first convolution: in the first quarter only
    first = [w for w in (c.weight for c in m.modules() if isinstance(c, nn.Conv2d))][:4]
    expect = (first[0] ** 2).sum().sqrt() / sum((w ** 2).sum() for w in first).sqrt()
    change = fp.conv_change(m, t)
    assert change[1:] == [0.0] * 3 and change[0] == pytest.approx(expect.item(), abs=1e-4)
