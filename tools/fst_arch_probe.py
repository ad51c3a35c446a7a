"""Why FST loses its edge on VGG19-BN: FT and FST, at their defaults and with a stronger shift, on the cached models and
clean images of the architecture table (VGG19-BN) and the TSBD table (PreAct-ResNet18), with what each run does to the
head, to the penultimate features and to the weights of each quarter of the network's depth.

    python tools/fst_arch_probe.py [--cases vgg19-bn/badnets preact-resnet18/badnets] [--seeds 0] [--out FILE]

Per run it records ASR and C-Acc, the cosine between the tuned and the original head, how far the clean and the
triggered test images' features moved (relative L2), the feature-level ASR (the share of triggered non-target images
whose features lie nearest the target class's mean feature of the defender's clean images, measured with the tuned
network), the same at the end of every stage (globally pooled: where in the depth the trigger's images join the
target class), and the relative weight change of the convolutions in each quarter of the depth. Models are never trained
here: a case whose model is not in the zoo is skipped with a message. Rows are appended to --out as they finish (resumable).
"""
import argparse
from pathlib import Path
import torch
from torch import nn
from backdoorpure.core import config_key, read_json, write_json
from backdoorpure.data import load_dataset
from backdoorpure.defense import defender_data, purify
from backdoorpure.fst import penultimate
from backdoorpure.metrics import _non_target
from backdoorpure.zoo import attack_overrides, cached_model, zoo_config, zoo_dir

CASES = {  # name: (arch, attack, ratio, attack-training epochs), each table's cpu protocol: width 16, cpu recipe in bf16, 5% random clean data
    'vgg19-bn/badnets': ('vgg19-bn', 'badnets', 0.1, 12), 'vgg19-bn/blended': ('vgg19-bn', 'blended', 0.1, 12),
    'preact-resnet18/badnets': ('preact-resnet18', 'badnets', 0.1, 12), 'preact-resnet18/blended': ('preact-resnet18', 'blended', 0.1, 12)}
VARIANTS = {  # name: (defense, config changes)
    'ft': ('ft', {}), 'fst': ('fst', {}), 'fst alpha 1': ('fst', {'alpha': 1.0}), 'fst 20 epochs': ('fst', {'epochs': 20}),
    'fst lr 0.02': ('fst', {'lr': 0.02})}

def case_config(name:str, seed:int):
    "The zoo config of a case's model."
    arch, attack, ratio, epochs = CASES[name]
    return zoo_config('cifar10', arch, attack, ratio, seed, 'cpu', width=16, device='cpu', train_overrides=attack_overrides(epochs, ratio, {'dtype': 'bf16'}))

def feature_asr(feats:torch.Tensor, clean_feats:torch.Tensor, clean_y:torch.Tensor, target:int):
    "Share of `feats` nearest (L2) to the target class's mean among the class means of `clean_feats`."
    means = torch.stack([clean_feats[clean_y == c].mean(0) for c in range(int(clean_y.max()) + 1)])
    return (torch.cdist(feats, means).argmin(1) == target).float().mean().item()

def stages(model:nn.Module):
    "The modules that end each stage of `model.features`: its max-pools (VGG) or its stages of residual blocks (ResNets)."
    kids = list(model.features.children())
    return [m for m in kids if isinstance(m, nn.MaxPool2d)] or [m for m in kids if any(hasattr(b, 'shortcut') for b in m.children())]

@torch.no_grad()
def stage_features(model:nn.Module, data, batch_size:int=512):
    "The globally pooled output of every stage (`stages`) for each image of `data`, in eval mode: a list of (N, C) tensors."
    outs, hooks = [[] for _ in stages(model)], []
    for k, m in enumerate(stages(model)): hooks.append(m.register_forward_hook(lambda mod, i, o, k=k: outs[k].append(o.float().mean((2, 3)))))
    was = model.training; model.eval()
    try:
        for xb, _ in data.batches(batch_size): model.features(xb)
    finally:
        for h in hooks: h.remove()
        model.train(was)
    return [torch.cat(o) for o in outs]

def feature_asr_by_stage(model:nn.Module, poisoned, clean, target:int):
    "`feature_asr` (%) of the triggered images at the end of every stage, class means from the defender's clean images."
    return [round(100 * feature_asr(p, c, clean.y, target), 2) for p, c in zip(stage_features(model, poisoned), stage_features(model, clean))]

def conv_change(before:nn.Module, after:nn.Module, parts:int=4):
    "Relative L2 change of the convolution weights in each of `parts` consecutive slices of the depth."
    a = dict(after.named_modules())
    convs = [(n, m.weight) for n, m in before.named_modules() if isinstance(m, nn.Conv2d)]
    out = []
    for k in range(parts):
        chunk = convs[k * len(convs) // parts:(k + 1) * len(convs) // parts]
        d = sum(((a[n].weight.float() - w.float()) ** 2).sum() for n, w in chunk) ** 0.5
        out.append(round((d / sum((w.float() ** 2).sum() for _, w in chunk) ** 0.5).item(), 4))
    return out

def probe(name:str, seed:int, variants:list, defense_seed:int=0):
    "Rows of one case's model under each variant; None when the model is not cached."
    cfg = case_config(name, seed)
    if not (zoo_dir()/config_key(cfg)/'entry.json').exists(): return None
    model, rec = cached_model(cfg, 'cpu')
    data = load_dataset('cifar10', device=torch.device('cpu'))
    clean = defender_data(rec, data.train, 'random', 0.05, seed)
    test, target = data.test, rec['attack'].target
    ptest = rec['attack'].poison_test(test)
    ptest = ptest.subset(_non_target(ptest, target))
    dtype = rec['config']['train']['dtype']
    f0_clean, f0_poison = penultimate(model, test), penultimate(model, ptest)
    by_stage = feature_asr_by_stage(model, ptest, clean, target)  # its last stage, pooled, is the penultimate layer
    rows = [dict(case=name, seed=seed, model_key=rec['key'], variant='none', defense_seed=None, feature_asr=by_stage[-1],
                 feature_asr_by_stage=by_stage, **{k: round(100 * v, 2) for k, v in rec['metrics'].items()})]
    for v in variants:
        method, over = VARIANTS[v]
        tuned, rep = purify(model, clean, method, over, test, ptest, target, 'cpu', defense_seed, dtype=dtype)
        f_clean, f_poison = penultimate(tuned, test), penultimate(tuned, ptest)
        w0, w = model.head.weight.float().flatten(), tuned.head.weight.float().flatten()
        by_stage = feature_asr_by_stage(tuned, ptest, clean, target)
        rows.append(dict(case=name, seed=seed, model_key=rec['key'], variant=v, defense_seed=defense_seed, config=over,
                         asr=round(100 * rep['asr'], 2), c_acc=round(100 * rep['c_acc'], 2), seconds=round(rep['seconds'], 1),
                         head_cosine=round(torch.cosine_similarity(w, w0, 0).item(), 3),
                         clean_feature_shift=round(((f_clean - f0_clean).norm(dim=1) / f0_clean.norm(dim=1)).mean().item(), 3),
                         poison_feature_shift=round(((f_poison - f0_poison).norm(dim=1) / f0_poison.norm(dim=1)).mean().item(), 3),
                         feature_asr=by_stage[-1], feature_asr_by_stage=by_stage, conv_change_by_quarter=conv_change(model, tuned)))
        print({k: rows[-1][k] for k in ('case', 'variant', 'asr', 'c_acc', 'head_cosine', 'clean_feature_shift', 'feature_asr', 'feature_asr_by_stage', 'conv_change_by_quarter')}, flush=True)
    return rows

def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--cases', nargs='*', default=list(CASES), choices=list(CASES))
    p.add_argument('--variants', nargs='*', default=list(VARIANTS), choices=list(VARIANTS))
    p.add_argument('--seeds', nargs='*', type=int, default=[0], help="the models' seeds (each defended with defense seed 0)")
    p.add_argument('--out', type=Path, default=Path(__file__).resolve().parents[1]/'results'/'arch'/'cpu'/'fst_probe.json')
    a = p.parse_args(argv)
    done = read_json(a.out, list) if a.out.exists() else []
    for name in a.cases:
        for seed in a.seeds:
            todo = [v for v in a.variants if not any((r['case'], r['seed'], r['variant']) == (name, seed, v) for r in done)]
            if not todo: continue
            rows = probe(name, seed, todo)
            if rows is None: print(f"skip {name} seed {seed}: its model is not in the zoo (train it with the table's notebook)"); continue
            done = [r for r in done if (r['case'], r['seed'], r['variant']) != (name, seed, 'none')] + rows
            write_json(a.out, done)

if __name__ == '__main__': main()
