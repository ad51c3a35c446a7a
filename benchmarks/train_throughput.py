"""Training throughput of our device-resident pipeline against a BackdoorBench-style DataLoader pipeline, measured
in one run on one device, plus the time and C-Acc of a clean model trained with our recipe.

    python benchmarks/train_throughput.py --width 16              # the 2-core CPU measurement
    python benchmarks/train_throughput.py --width 64 --recipe fast # on a GPU

Writes benchmarks/results/train_throughput_<device>_w<width>.json (atomically) and prints a summary."""
import argparse, json, math, os, re, time
import numpy as np
import torch
import torch.nn.functional as F
import torchvision.transforms as T
from PIL import Image
from backdoorpure.core import RunRecord, device_name, get_device, seed_everything, write_json, autocast_dtype
from backdoorpure.data import load_dataset
from backdoorpure.models import create_model
from backdoorpure.train import train, train_config, accuracy

class ArrayDataset(torch.utils.data.Dataset):
    "CIFAR-10 as torchvision sees it: NHWC uint8 arrays, a PIL image per item, CPU transforms."
    def __init__(self, x, y, transform): self.x, self.y, self.transform = x, y, transform
    def __len__(self): return len(self.x)
    def __getitem__(self, i): return self.transform(Image.fromarray(self.x[i])), int(self.y[i])

def sync(dev):
    if dev.type == 'cuda': torch.cuda.synchronize()

def reference_ips(data, arch, width, dev, images, workers):
    "Images/s of BackdoorBench's pipeline: torchvision transforms in DataLoader workers, batch 128, fp32."
    info = data.info
    tf = T.Compose([T.RandomCrop(32, padding=4), T.RandomHorizontalFlip(), T.ToTensor(), T.Normalize(info.mean, info.std)])
    ds = ArrayDataset(data.x.permute(0, 2, 3, 1).cpu().numpy(), data.y.cpu().numpy(), tf)
    dl = torch.utils.data.DataLoader(ds, batch_size=128, shuffle=True, num_workers=workers, pin_memory=dev.type == 'cuda',
                                     drop_last=True, persistent_workers=False)
    model = create_model(arch, 10, width).to(dev).train()
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
    warm, seen, t0 = 5, 0, None
    for i, (xb, yb) in enumerate(dl):
        if i == warm: sync(dev); t0 = time.perf_counter()
        xb, yb = xb.to(dev, non_blocking=True), yb.to(dev, non_blocking=True)
        loss = F.cross_entropy(model(xb), yb); opt.zero_grad(); loss.backward(); opt.step()
        if t0 is not None: seen += len(yb)
        if seen >= images: break
    sync(dev)
    return seen / (time.perf_counter() - t0)

def ours_ips(data, arch, width, dev, images, cfg):
    "Images/s of our pipeline under `cfg`, from the per-epoch throughput of a run on a subset, after a warm-up epoch."
    n = max(images, 4 * cfg.batch_size)
    sub = data.subset(torch.arange(n, device=data.device))
    hist, _ = train(create_model(arch, 10, width), sub, cfg.merge(epochs=2))
    return hist[-1]['images_per_s']

def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--arch', default='preact-resnet18'); p.add_argument('--width', type=int, default=16)
    p.add_argument('--recipe', default=None, help="our recipe (default: 'cpu' on a CPU, 'fast' on a GPU)")
    p.add_argument('--epochs', type=int, default=None, help="epochs of the clean model (default: the recipe's)")
    p.add_argument('--images', type=int, default=6400, help='images timed per pipeline')
    p.add_argument('--workers', type=int, default=None, help='DataLoader workers of the reference (default: cores, at most 8)')
    p.add_argument('--device', default='auto'); p.add_argument('--seed', type=int, default=0)
    p.add_argument('--skip-clean', action='store_true', help='only measure throughput')
    a = p.parse_args()
    dev = get_device(a.device)
    recipe = a.recipe or ('fast' if dev.type == 'cuda' else 'cpu')
    cfg = train_config(recipe).merge(device=str(dev), seed=a.seed, **({'epochs': a.epochs} if a.epochs else {}))
    workers = a.workers if a.workers is not None else min(8, len(os.sched_getaffinity(0)))
    data = load_dataset('cifar10', device=dev)
    seed_everything(a.seed)
    out = dict(benchmark='train_throughput', arch=a.arch, width=a.width, device=str(dev), device_name=device_name(dev),
               torch_version=torch.__version__, seed=a.seed, runs=1, ours_recipe=dict(cfg),
               ours_dtype=str(autocast_dtype(dev, cfg.dtype) or 'fp32').replace('torch.', ''),
               reference=dict(pipeline='torchvision DataLoader, CPU transforms (RandomCrop pad 4, flip, ToTensor, Normalize)',
                              batch_size=128, workers=workers, dtype='fp32', memory_format='contiguous'))
    ref = reference_ips(data.train, a.arch, a.width, dev, a.images, workers)
    ours = ours_ips(data.train, a.arch, a.width, dev, a.images, cfg)
    out.update(reference_images_per_s=round(ref, 1), ours_images_per_s=round(ours, 1), speedup=round(ours / ref, 2),
               reference_s_per_epoch=round(50000 / ref, 1), ours_s_per_epoch=round(50000 / ours, 1))
    print(f"{a.arch} width {a.width} on {out['device_name']}, torch {torch.__version__}")
    print(f"  reference: {ref:9.1f} images/s  {50000/ref:7.1f} s/epoch  (batch 128, {workers} workers, fp32)")
    print(f"  ours:      {ours:9.1f} images/s  {50000/ours:7.1f} s/epoch  ({recipe} recipe, {out['ours_dtype']}, batch {cfg.batch_size})")
    print(f"  ratio ours/reference: {ours/ref:.2f}x")
    path = f"benchmarks/results/train_throughput_{re.sub('[^a-z0-9]+', '-', dev.type)}_w{a.width}.json"
    write_json(path, out)
    if not a.skip_clean:
        seed_everything(a.seed)
        model = create_model(a.arch, 10, a.width)
        t0 = time.perf_counter()
        hist, rec = train(model, data.train, cfg)
        sync(dev); secs = time.perf_counter() - t0
        acc = accuracy(model, data.test)
        out['clean_model'] = dict(recipe=recipe, epochs=cfg.epochs, train_seconds=round(secs, 1), minutes=round(secs / 60, 2),
                                  c_acc=round(100 * acc, 2), history=hist)
        print(f"  clean model: {cfg.epochs} epochs in {secs/60:.1f} min, C-Acc {100*acc:.2f}%")
        write_json(path, out)
    print(f"wrote {path}")

if __name__ == '__main__': main()
