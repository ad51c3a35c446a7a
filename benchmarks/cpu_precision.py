"""Training and inference images/s in fp32 and in bf16 autocast on the CPU, for widths 8, 16 and 32, with the ratio of
each pair measured in the same run; with --recipes, also the wall time, C-Acc and ASR of a BadNets 1% model trained
from scratch under each named recipe (the cpu tables train theirs for 30 epochs).

    python benchmarks/cpu_precision.py                              # throughput only: a few minutes on 2 cores
    python benchmarks/cpu_precision.py --recipes cpu --epochs 30    # plus the cpu table's 1% model (about an hour)

Throughput is taken from our own trainer (device-resident uint8 data, augmentation, channels_last, batch 128) on a
slice of CIFAR-10, after a warm-up epoch, with fp32 and bf16 interleaved per width so that both see the same machine
state. Writes benchmarks/results/cpu_precision_<cpu>.json (atomically), naming the CPU model, its core count, its bf16
flags and the torch version."""
import argparse, re, time
from pathlib import Path
import torch
from backdoorpure.core import cpu_bf16_flags, device_name, seed_everything, write_json
from backdoorpure.data import load_dataset
from backdoorpure.models import create_model
from backdoorpure.train import predict, train, train_config
from backdoorpure.zoo import zoo_config, make_backdoor

def train_ips(data, arch, width, dtype, images, batch_size):
    "Training images/s of our trainer in `dtype`: the second of two epochs on the first `images` training images."
    sub = data.first(images)
    hist, _ = train(create_model(arch, 10, width), sub, train_config('cpu').merge(epochs=2, dtype=dtype, batch_size=batch_size, device='cpu'))
    return hist[-1]['images_per_s']

def infer_ips(data, arch, width, dtype, images):
    "Inference images/s (eval mode, batch 1024) in `dtype`, after one warm-up pass."
    model, sub = create_model(arch, 10, width).to(memory_format=torch.channels_last), data.first(images)
    predict(model, sub.first(1024), dtype=dtype)
    t0 = time.perf_counter(); predict(model, sub, dtype=dtype)
    return len(sub) / (time.perf_counter() - t0)

def recipe_run(recipe, epochs, width, arch, seed):
    "Wall time, C-Acc and ASR (%) of a BadNets 1% model trained from scratch under `recipe` (not cached)."
    cfg = zoo_config('cifar10', arch, 'badnets', 0.01, seed, recipe, width=width, train_overrides={'epochs': epochs} if epochs else None)
    _, _, _, metrics, _, record = make_backdoor(cfg, 'cpu')
    return dict(recipe=recipe, epochs=cfg['train']['epochs'], dtype=record.dtype, train_seconds=round(record.wall_s, 1),
                **{k: round(100 * metrics[k], 2) for k in ('c_acc', 'asr')})

def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--arch', default='preact-resnet18'); p.add_argument('--widths', default='8,16,32')
    p.add_argument('--images', type=int, default=2048, help='training images per throughput epoch')
    p.add_argument('--batch-size', type=int, default=128)
    p.add_argument('--threads', type=int, default=0, help="torch's intra-op threads (0: torch's default)")
    p.add_argument('--recipes', default='', help='comma-separated recipes whose BadNets 1%% model to train and time')
    p.add_argument('--epochs', type=int, default=None, help='epochs of the --recipes models (default: the recipe\'s)')
    p.add_argument('--recipe-width', type=int, default=16); p.add_argument('--seed', type=int, default=0)
    a = p.parse_args()
    if a.threads: torch.set_num_threads(a.threads)
    seed_everything(a.seed)
    data = load_dataset('cifar10', device='cpu')
    dev = torch.device('cpu')
    out = dict(benchmark='cpu_precision', arch=a.arch, device_name=device_name(dev), cpu_bf16_flags=list(cpu_bf16_flags()),
               threads=torch.get_num_threads(), torch_version=torch.__version__, runs=1, batch_size=a.batch_size,
               train_images=a.images, rows=[], recipes=[])
    print(f"{a.arch} on {out['device_name']}, {out['threads']} threads, torch {torch.__version__}, flags {' '.join(out['cpu_bf16_flags']) or 'none'}")
    for w in map(int, a.widths.split(',')):
        t = {d: train_ips(data.train, a.arch, w, d, a.images, a.batch_size) for d in ('fp32', 'bf16')}
        i = {d: infer_ips(data.test, a.arch, w, d, 5000) for d in ('fp32', 'bf16')}
        row = dict(width=w, train_fp32=round(t['fp32'], 1), train_bf16=round(t['bf16'], 1), train_ratio=round(t['bf16'] / t['fp32'], 2),
                   infer_fp32=round(i['fp32'], 1), infer_bf16=round(i['bf16'], 1), infer_ratio=round(i['bf16'] / i['fp32'], 2))
        out['rows'].append(row)
        print(f"  width {w:3d}: train {row['train_fp32']:7.1f} fp32, {row['train_bf16']:7.1f} bf16 img/s ({row['train_ratio']:.2f}x);"
              f" inference {row['infer_fp32']:7.1f} fp32, {row['infer_bf16']:7.1f} bf16 img/s ({row['infer_ratio']:.2f}x)")
    for r in filter(None, a.recipes.split(',')):
        out['recipes'].append(recipe_run(r, a.epochs, a.recipe_width, a.arch, a.seed)); print(f"  1% model: {out['recipes'][-1]}")
    path = Path('benchmarks/results')/f"cpu_precision_{re.sub('[^a-z0-9]+', '-', out['device_name'].lower()).strip('-')}.json"
    write_json(path, out); print(f"wrote {path}")

if __name__ == '__main__': main()
