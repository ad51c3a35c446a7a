"""One attacked model trained from scratch under a recipe with overrides, with its ASR on 2,000 random triggered test
images after every epoch (trials committed before 2026-12-06 watched the first 2,000, of classes 1 and 2 only): what a
faster attack-training recipe needs to know (when, if at all, the backdoor implants). FST's protocol (a class-balanced
2% hold-out), width 16; nothing is cached. Writes results/recipe-trials/cpu/<name>.json.

    python tools/recipe_trial.py lr0.02 --attack badnets --ratio 0.01 --set dtype=bf16 epochs=15 lr=0.02"""
import argparse, json
from pathlib import Path
import torch
from backdoorpure.core import write_json
from backdoorpure.zoo import make_backdoor, zoo_config

def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('name', help='name of the results file')
    ap.add_argument('--attack', default='badnets'); ap.add_argument('--ratio', type=float, default=0.01)
    ap.add_argument('--recipe', default='cpu'); ap.add_argument('--seed', type=int, default=0)
    ap.add_argument('--set', nargs='*', default=[], metavar='KEY=VALUE', help='training keys to override (values read as JSON)')
    a = ap.parse_args()
    over = {k: json.loads(v) if v[:1] in '0123456789-[{tf' else v for k, v in (kv.split('=', 1) for kv in a.set)}
    cfg = zoo_config('cifar10', 'resnet18', a.attack, a.ratio, a.seed, a.recipe, width=16, train_overrides=over, holdout=0.02, device='cpu')
    *_, m, hist, rec = make_backdoor(cfg, 'cpu', watch=2000)
    out = dict(name=a.name, attack=a.attack, ratio=a.ratio, seed=a.seed, train=cfg['train'], device=rec.device_name, threads=torch.get_num_threads(),
               torch=torch.__version__, train_seconds=round(sum(h['seconds'] for h in hist), 1), metrics={k: round(100 * v, 2) for k, v in m.items()},
               asr_by_epoch=[round(100 * h['test_acc'], 2) for h in hist], history=hist)
    write_json(Path(__file__).resolve().parents[1]/'results'/'recipe-trials'/'cpu'/f'{a.name}.json', out)
    print(json.dumps({k: out[k] for k in ('name', 'train_seconds', 'metrics', 'asr_by_epoch')}))

if __name__ == '__main__': main()
