"""One defense at its defaults on cached zoo models, BackdoorBench's defender data (a random share of the training images,
benign) and random test images; rows go to results/baselines/<method>_<tag>.json, written atomically, one per model.

    python tools/baseline_check.py i-bau 2c05a1ce2a5d3e233563 5d2e536e5098f56f5bd5 --threads 1

The models must be in the zoo (their keys are printed in every table row); a missing key is an error, not a training."""
import argparse, json
from pathlib import Path
import torch
from backdoorpure.core import write_json
from backdoorpure.data import load_dataset
from backdoorpure.defense import defender_data, purify
from backdoorpure.zoo import cached_model, zoo_dir

def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('method'); ap.add_argument('keys', nargs='+', help='zoo keys of backdoored models')
    ap.add_argument('--share', type=float, default=0.05, help='clean data as a share of the training set (default: %(default)s)')
    ap.add_argument('--test-images', type=int, default=2000); ap.add_argument('--threads', type=int, default=None)
    ap.add_argument('--tag', default='cpu', help='suffix of the results file (default: %(default)s)')
    a = ap.parse_args()
    if a.threads: torch.set_num_threads(a.threads)
    missing = [k for k in a.keys if not (zoo_dir()/k/'entry.json').exists()]
    if missing: raise SystemExit(f"Not in the zoo ({zoo_dir()}): {', '.join(missing)}; train them first (their tables' notebooks do).")
    data = load_dataset('cifar10'); test = data.test.sample(a.test_images)
    rows = []
    for key in a.keys:
        model, rec = cached_model(json.loads((zoo_dir()/key/'entry.json').read_text())['config'], 'cpu')
        clean = defender_data(rec, data.train, 'random', a.share, seed=0)
        _, r = purify(model, clean, a.method, test=test, poisoned=rec['attack'].poison_test(test), device='cpu', dtype='fp32', seed=0)
        rows.append(dict(model_key=key, attack=rec['config']['attack'], ratio=rec['config']['ratio'], clean_images=len(clean),
                         test_images=len(test), before=r['before'], **{k: r[k] for k in ('c_acc', 'asr', 'ra', 'seconds', 'device', 'log', 'config')},
                         threads=torch.get_num_threads(), torch=torch.__version__))
        print(json.dumps(rows[-1])[:400], flush=True)
    out = Path(__file__).resolve().parents[1]/'results'/'baselines'/f'{a.method}_{a.tag}.json'
    write_json(out, rows); print(out)

if __name__ == '__main__': main()
