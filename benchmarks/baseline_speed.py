"""Seconds of every baseline defense at its default config against FT on the same backdoored model and the same clean
data, measured in one run on one device. FT is timed twice: at BackdoorBench's length (100 epochs, SGD lr 0.01, the
length FT-SAM and FP also tune for) and at FST's (10 epochs); the ratios are against the first.

    python benchmarks/baseline_speed.py                       # width-16 cpu-scale model, 5% clean data: about an hour on one core
    python benchmarks/baseline_speed.py --device cuda --recipe fast --width 64
    python benchmarks/baseline_speed.py --width 4 --train-images 2000 --clean 256 --methods clp,nad   # a smoke run (numbers meaningless)

The model is a BadNets-10% PreAct-ResNet18 from the zoo (trained on a cache miss). Writes
benchmarks/results/baseline_speed_<device>_w<width>.json atomically."""
import argparse, re
import torch
from backdoorpure.core import device_name, get_device, write_json
from backdoorpure.data import load_dataset
import backdoorpure.baselines  # registers the baselines
from backdoorpure.defense import DEFENSES, defender_data, purify
from backdoorpure.zoo import backdoored_model

BASELINES = [n for n in DEFENSES.names() if DEFENSES.get(n).__module__ == 'backdoorpure.baselines']  # every defense of nbs/15_baselines
REFERENCES = {'ft (100 epochs)': ('ft', dict(epochs=100)), 'ft (10 epochs)': ('ft', dict(epochs=10))}
EXEMPT = ('i-bau', 'anp')  # the aim is at most 3x FT's seconds, except for these two, whose ratio is only reported

def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--width', type=int, default=16); ap.add_argument('--recipe', default='cpu')
    ap.add_argument('--train-images', type=int, default=None, help='attacker training images (default: all)')
    ap.add_argument('--clean', type=float, default=0.05, help='clean data: a share of the training set (< 1) or a number of images')
    ap.add_argument('--device', default='auto'); ap.add_argument('--dtype', default='fp32')
    ap.add_argument('--threads', type=int, default=None, help='torch CPU threads (default: torch\'s)')
    ap.add_argument('--methods', default=','.join(BASELINES), help='comma-separated baselines to time')
    a = ap.parse_args()
    if a.threads: torch.set_num_threads(a.threads)
    dev = get_device(a.device)
    data = load_dataset('cifar10', device=dev)
    model, rec = backdoored_model('cifar10', 'preact-resnet18', 'badnets', 0.1, 0, a.recipe, device=dev, width=a.width, train_images=a.train_images)
    share = a.clean if a.clean < 1 else a.clean / len(data.train)
    clean = defender_data(rec, data.train, 'random', share, seed=0)
    test = data.test.sample(2000); poisoned = rec['attack'].poison_test(test)
    rows = {}
    for name, (method, cfg) in [*REFERENCES.items(), *[(m, (m, {})) for m in a.methods.split(',')]]:
        _, r = purify(model, clean, method, cfg, test=test, poisoned=poisoned, device=dev, dtype=a.dtype, seed=0)
        rows[name] = dict(seconds=r['seconds'], c_acc=round(100 * r['c_acc'], 2), asr=round(100 * r['asr'], 2))
        print(name, rows[name], flush=True)
    ref = rows['ft (100 epochs)']['seconds']
    for name, row in rows.items(): row['ratio_to_ft100'] = round(row['seconds'] / ref, 3)
    over = [m for m in a.methods.split(',') if m not in EXEMPT and rows[m]['ratio_to_ft100'] > 3]
    res = dict(benchmark='baseline_speed', device=device_name(dev), torch=torch.__version__, dtype=a.dtype, threads=torch.get_num_threads(),
               arch='preact-resnet18', width=a.width, model_key=rec['key'], clean_images=len(clean), runs=1, rows=rows, over_3x=over)
    write_json(f"benchmarks/results/baseline_speed_{re.sub(r'[^a-z0-9]+', '_', dev.type)}_w{a.width}.json", res)
    print(f"{device_name(dev)}, torch {torch.__version__}, {a.dtype}, width {a.width}, {len(clean)} clean images; seconds (ratio to 100-epoch FT): "
          + ', '.join(f"{n} {r['seconds']:.1f} ({r['ratio_to_ft100']}x)" for n, r in rows.items())
          + (f"; over 3x: {', '.join(over)}" if over else '; none of the others over 3x'))

if __name__ == '__main__': main()
