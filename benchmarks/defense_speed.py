"""Seconds of TSBD's activeness-aware fine-tuning with in-place perturbation against the official code's approach (a
deep copy of the model for every batch), measured in one run on one device; with --whole, also the seconds of whole
TSBD and NFT runs with their default configs on a BadNets-10% model from the zoo (trained on a cache miss: the unlearning
stage of TSBD stops at once on an untrained model, so the whole defense must be timed on a real one).

    python benchmarks/defense_speed.py --width 16 --epochs 2        # the 2-core CPU measurement (a few minutes)
    python benchmarks/defense_speed.py --width 64 --device cuda --whole --recipe fast   # on a GPU

The fine-tuning comparison uses a clean, freshly initialised PreAct-ResNet18 on 5% of CIFAR-10 (TSBD's default data size): speed does not
depend on whether the model is backdoored. Writes benchmarks/results/defense_speed_<device>_w<width>.json."""
import argparse, copy, re, time
import torch
import torch.nn.functional as F
from backdoorpure.core import device_name, get_device, seed_everything, write_json, make_generator
from backdoorpure.data import load_dataset, random_indices
from backdoorpure.defense import purify
from backdoorpure.models import create_model
from backdoorpure.tsbd import activeness_finetune
from backdoorpure.zoo import backdoored_model

def sync(dev):
    if dev.type == 'cuda': torch.cuda.synchronize()

def deepcopy_finetune(model, clean, epochs, lr=0.01, momentum=0.9, r=0.05, alpha=0.7, batch_size=256, seed=0):
    "The reference: g2 from a deep copy of the model made for every batch, as the official code does."
    params = list(model.parameters())
    opt = torch.optim.SGD(params, lr=lr, momentum=momentum)
    g = make_generator(seed, clean.device); model.train()
    for _ in range(epochs):
        for xb, yb in clean.batches(batch_size, shuffle=True, augment=True, generator=g):
            g1 = torch.autograd.grad(F.cross_entropy(model(xb), yb), params)
            twin = copy.deepcopy(model)
            with torch.no_grad():
                for p, gr in zip(twin.parameters(), g1): p.add_(gr, alpha=r / (gr.norm().item() + 1e-12))
            g2 = torch.autograd.grad(F.cross_entropy(twin(xb), yb), list(twin.parameters()))
            for p, a, b in zip(params, g1, g2): p.grad = (1 - alpha) * a + alpha * b
            opt.step()
            with torch.no_grad(): model(xb)
    return model

def timed(fn):
    t0 = time.perf_counter(); out = fn(); return out, time.perf_counter() - t0

def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--width', type=int, default=16); ap.add_argument('--epochs', type=int, default=2)
    ap.add_argument('--device', default='auto'); ap.add_argument('--runs', type=int, default=1)
    ap.add_argument('--whole', action='store_true', help='also time whole TSBD and NFT runs with their default configs')
    ap.add_argument('--recipe', default='cpu', help="zoo recipe of the backdoored model that --whole purifies ('cpu', 'fast', 'backdoorbench')")
    a = ap.parse_args()
    dev = get_device(a.device); seed_everything(0)
    data = load_dataset('cifar10', device=dev)
    clean = data.train.subset(random_indices(len(data.train), 2500, 0).to(dev))
    base = create_model('preact-resnet18', 10, a.width).to(dev)
    rows = []
    for run in range(a.runs):
        sync(dev); _, t_ref = timed(lambda: (deepcopy_finetune(copy.deepcopy(base), clean, a.epochs), sync(dev)))
        _, t_ours = timed(lambda: (activeness_finetune(copy.deepcopy(base), clean, epochs=a.epochs), sync(dev)))
        rows.append(dict(run=run, deepcopy_s=round(t_ref, 2), in_place_s=round(t_ours, 2), ratio=round(t_ref / t_ours, 3)))
        print(rows[-1])
    res = dict(benchmark='defense_speed', device=device_name(dev), torch=torch.__version__, dtype='fp32', arch='preact-resnet18',
               width=a.width, clean_images=len(clean), ft_epochs_timed=a.epochs, runs=a.runs, finetune=rows)
    if a.whole:
        model, entry = backdoored_model('cifar10', 'preact-resnet18', 'badnets', 0.1, 0, a.recipe, device=dev, width=a.width)
        res['whole_model'] = dict(attack='badnets', ratio=0.1, seed=0, recipe=a.recipe, key=entry['key'])
        res['tsbd_default_s'] = purify(model, clean, 'tsbd', device=dev)[1]['seconds']
        res['nft_default_s'] = purify(model, data.train.subset(random_indices(len(data.train), 500, 0).to(dev)), 'nft', device=dev)[1]['seconds']
    name = re.sub(r'[^a-z0-9]+', '_', dev.type)
    write_json(f'benchmarks/results/defense_speed_{name}_w{a.width}.json', res)
    print(f"{device_name(dev)}, torch {torch.__version__}, fp32, width {a.width}: activeness fine-tuning {a.epochs} epochs on 2,500 images: "
          f"deep copy per batch {rows[-1]['deepcopy_s']} s, in place {rows[-1]['in_place_s']} s ({rows[-1]['ratio']}x)"
          + (f"; TSBD default {res['tsbd_default_s']:.1f} s, NFT default {res['nft_default_s']:.1f} s" if a.whole else ''))

if __name__ == '__main__': main()
