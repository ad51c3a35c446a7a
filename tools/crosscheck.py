"""Differential cross-check: our FST, TSBD and NFT against their official code, on the same backdoored model and clean images.

The official repositories are not part of this project (their licences do not allow copying), so the harness takes
local checkouts (get them with `git clone`, or the search tool's fetch):

    python tools/crosscheck.py --fst PATH --tsbd PATH --backdoorbench PATH --nft PATH [--scale smoke|cpu] [--out DIR]

  --fst            github.com/AISafety-HKUST/stable_backdoor_purification
  --tsbd           github.com/linweiii/TSBD (its tsbd.py and config.yaml run inside a BackdoorBench checkout)
  --backdoorbench  github.com/SCLBD/BackdoorBench
  --nft            github.com/nazmul-karim170/NFT-Augmented-Backdoor-Purification

For every case (a zoo model and the defender's clean images) and method, it runs our `purify` and the official
purification on the same weights (mapped to the official model class by a key map; the load is strict) and the same
clean images (in the official transform), each in its own process on the CPU, then evaluates both with our metrics
on the same test and triggered test sets. Only what crashes or cannot take our inputs is patched; every patch and
every deviation from the official defaults is written into the results. Results go to OUT/{fst,tsbd,nft}.json, one
row per case, and a case already there is not run again.
"""
import argparse, copy, hashlib, json, os, shutil, subprocess, sys, tempfile, time
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn

ROOT = Path(__file__).resolve().parents[1]
METHODS = ('fst', 'tsbd', 'nft')
STD = (0.247, 0.243, 0.261)  # our CIFAR-10 normalisation's std (BackdoorBench's)

# Cases: which zoo model, which clean images, which methods. The cpu cases are issue 34's: the cpu-ls NFT table's
# seed-0 models at 10% with its 1% clean share, drawn as that committed table drew it (from the images the attacker left
# unpoisoned); that table's attacker trained with label smoothing 0.1 (the cpu recipe's default then), so these cases do
# too: the same zoo keys. The FST cases are the cpu FST table's seed-0 models at 1% (plain cross-entropy, the attacker
# in bf16, 30 epochs: the same zoo keys as results/fst/cpu) with its 2% class-balanced hold-out.
NFT_TABLE = dict(arch='resnet18', width=16, recipe='cpu', epochs=12, attacker=dict(label_smoothing=0.1), ratio=0.1, seed=0,
                 train_images=None, holdout=0.0, clean_source='unpoisoned', clean_share=0.01, test_images=None)
FST_TABLE = dict(NFT_TABLE, epochs=30, attacker=dict(dtype='bf16'), ratio=0.01, holdout=0.02, clean_source='holdout', clean_share=0.02)
# The cpu-e60 cases are the current cpu NFT table's seed-0 models (results/nft/cpu, 23_nft.cpu.yaml): the official attack
# scripts' recipe (plain cross-entropy, lr 0.1, cosine) for 60 epochs in bf16, and that table's 500 random benign images.
NFT_TABLE_E60 = dict(NFT_TABLE, epochs=60, attacker=dict(lr=0.1, schedule='cosine', warmup_epochs=0.0, nesterov=False, dtype='bf16'),
                     clean_source='random')
CASES = {
    'smoke': [dict(NFT_TABLE, attack='badnets', width=8, epochs=1, train_images=2000, clean_share=0.004, test_images=300,
                   methods=list(METHODS))],
    'cpu': [dict(NFT_TABLE, attack=a, methods=list(METHODS)) for a in ('badnets', 'blended', 'sig', 'wanet')]
           + [dict(FST_TABLE, attack=a, methods=['fst']) for a in ('badnets', 'blended', 'sig', 'lc')],
    'cpu-e60': [dict(NFT_TABLE_E60, attack=a, methods=list(METHODS)) for a in ('badnets', 'badnets-nft', 'blended', 'sig', 'wanet')],
}
DTYPE = 'fp32'  # both sides defend and are evaluated in fp32, as the official code runs on a CPU
# Shorter official schedules at the smoke scale only (seconds, numbers meaningless); the cpu scale runs the defaults.
SMOKE = dict(fst=dict(epochs=1), tsbd=dict(unlearn_max_epochs=2, ft_epochs=1), nft=dict(rounds=2, steps_per_round=3))


# ---- key maps: ours <-> the official CIFAR ResNet-18 (FST's models/resnet.py, NFT's networks, same names) ----------
def to_official(key:str):
    "Our `resnet18` state-dict key as the official CIFAR ResNet-18 names it."
    top, _, rest = key.partition('.')
    if top == 'head': return f'linear.{rest}'
    stage, _, rest = rest.partition('.')
    if stage == '0': return rest.replace('0.', 'conv1.', 1) if rest.startswith('0.') else rest.replace('1.', 'bn1.', 1)
    return f'layer{stage}.{rest}'

def official_state(model:nn.Module):
    "Our model's state dict under the official names."
    return {to_official(k): v.detach().cpu().clone() for k, v in model.state_dict().items()}

def from_official(state:dict):
    "An official state dict under our names: the BackdoorBench reader's renaming, which `to_official` inverts."
    from backdoorpure.interop import _rename
    return {_rename(k, 'resnet18'): v for k, v in state.items()}

def build_resnet18(module, width:int, classes:int, **extra):
    "An official CIFAR ResNet-18 (class `module.ResNet`, block `module.BasicBlock`) at `width`: its own layers, built in its own order."
    net = module.ResNet.__new__(module.ResNet); nn.Module.__init__(net)
    for k, v in extra.items(): setattr(net, k, v)  # NFT's class reads its BatchNorm class from an attribute
    net.in_planes = width
    net.conv1, net.bn1 = nn.Conv2d(3, width, 3, 1, 1, bias=False), nn.BatchNorm2d(width)
    for i, stride in enumerate((1, 2, 2, 2)): setattr(net, f'layer{i + 1}', net._make_layer(module.BasicBlock, width * 2 ** i, 2, stride))
    net.linear = nn.Linear(width * 8, classes)
    return net


# ---- data handed to the official code: (PIL image, label) in its own transform ----------------------------------------
class RawImages(torch.utils.data.Dataset):
    "uint8 HWC images and labels as torchvision's CIFAR10 exposes them (`.data`, `.targets`), items (PIL image, label)."
    def __init__(self, data, targets, transform=None): self.data, self.targets, self.transform = data, [int(t) for t in targets], transform
    def __len__(self): return len(self.data)
    def __getitem__(self, i):
        from PIL import Image
        img = Image.fromarray(self.data[i])
        return (self.transform(img) if self.transform else img), self.targets[i]

def load_job(job:Path):
    "The inputs a worker reads: official-named weights, clean images, a small test set, and the settings."
    from safetensors.torch import load_file
    arrays = np.load(job/'data.npz', allow_pickle=False)
    return load_file(job/'model.safetensors'), arrays, json.loads((job/'job.json').read_text())


# ---- one worker per official method, each in its own process (their packages `utils` and `models` collide) ---------
class TraceLoader:
    "The official training DataLoader, recording every batch and the network's state before the first step and after each step."
    def __init__(self, loader, net):
        self.loader, self.net, self.batches, self.states = loader, net, [], []
    def __len__(self): return len(self.loader)
    def snap(self): self.states.append({k: v.detach().clone() for k, v in self.net.state_dict().items()})
    def __iter__(self):
        for i, (x, y, *rest) in enumerate(self.loader):
            if i > 0 or not self.states: self.snap()  # the first batch of a later epoch follows no new step
            self.batches.append((x.clone(), torch.as_tensor(y).clone()))
            yield (x, y, *rest)
        self.snap()
    def save(self, path:Path):
        from safetensors.torch import save_file
        t = {f'x{k}': x.contiguous() for k, (x, _) in enumerate(self.batches)} | {f'y{k}': y.contiguous() for k, (_, y) in enumerate(self.batches)}
        save_file(t | {f's{k}:{n}': v.contiguous() for k, s in enumerate(self.states) for n, v in s.items()}, path)

def official_fst(repo:Path, job:Path):
    "FST's fine_tune/ft.py main(), on our weights and images; returns (purified official state, patches, deviations)."
    state, arrays, cfg = load_job(job)
    sys.path[:0] = [str(repo/'fine_tune'), str(repo)]
    import ft  # changes the working directory to fine_tune/ when imported
    from utils.bd_dataset_v2 import dataset_wrapper_with_transform
    from utils.aggregate_block.dataset_and_transform_generate import get_transform
    import importlib.util
    spec = importlib.util.spec_from_file_location('fst_resnet', repo/'models'/'resnet.py'); R = importlib.util.module_from_spec(spec); spec.loader.exec_module(R)
    width, classes = state['conv1.weight'].shape[0], state['linear.weight'].shape[0]
    net = build_resnet18(R, width, classes); net.load_state_dict(state, strict=True)
    clean, test = RawImages(arrays['clean_x'], arrays['clean_y']), RawImages(arrays['test_x'], arrays['test_y'])
    bd = RawImages(arrays['bd_x'], np.full(len(arrays['bd_x']), cfg['target']))
    record = Path(ft.__file__).resolve().parents[1]/'record'/'cifar10'/cfg['record']/f"pratio_{cfg['ratio']}-target_{cfg['target']}-archi_resnet18"
    record.mkdir(parents=True, exist_ok=True)
    torch.save({'model': state, 'bd_test': None}, record/'attack_result.pt')  # what ft.py loads (tensors only)
    ft.generate_cls_model = lambda *a, **k: net
    ft.dataset_and_transform_generate = lambda args: (None, get_transform('cifar10', 32, 32, True), None, test, get_transform('cifar10', 32, 32, False), None)
    ft.load_attack_result = lambda path: {'clean_train': dataset_wrapper_with_transform(clean)}
    ft.choose_index_v2 = lambda ratio, n: list(range(n))
    ft.CustomDataset_v2 = lambda images, target, transform: dataset_wrapper_with_transform(bd, transform)
    if cfg.get('trace'):  # record the training loader's batches and the state after every step (tools/fst_trace.py)
        traced, loader = [], ft.DataLoader
        ft.DataLoader = lambda *a, **k: (traced.append(TraceLoader(loader(*a, **k), net)) or traced[-1]) if k.get('shuffle') else loader(*a, **k)
    sys.argv = ['ft.py', '--attack', cfg['record'], '--pratio', str(cfg['ratio']), '--device', 'cpu', '--lr', '0.01', '--model', 'resnet18',
                '--dataset', 'cifar10', '--epochs', str(cfg.get('epochs', 10)), '--ft_mode', 'fst', '--split_ratio', '0.02',
                '--attack_target', str(cfg['target']), '--random_seed', str(cfg['seed'])]
    try:
        ft.main()
        if cfg.get('trace'): traced[0].save(job/'trace.safetensors')
    finally:  # leave the checkout as it was: our record and the logs the script writes for it, both named after our model
        for d in (repo/'record'/'cifar10'/cfg['record'], repo/'logs'/'cifar10'/cfg['record']):
            shutil.rmtree(d, ignore_errors=True)
            for parent in (d.parent, d.parent.parent):  # and the folders made for it, when nothing else is in them
                try: parent.rmdir()
                except OSError: break
    patches = ['generate_cls_model: the official CIFAR ResNet-18 class (models/resnet.py) built at our width, weights loaded strictly',
               'dataset_and_transform_generate: no CIFAR-10 download; our clean test subset in the official test transform',
               'load_attack_result + choose_index_v2: the clean pool is exactly our defender images, in the official train transform',
               'CustomDataset_v2: our triggered test subset instead of PNG files',
               'attack_result.pt: written by the harness with our weights (tensors only) and removed afterwards']
    deviations = ['--device cpu', "--random_seed: each row's defense seed (the model's seed unless --defense-seeds)", 'official evaluations run on small test subsets; '
                  'the reported metrics are ours, on the full sets'] + ([f"--epochs {cfg['epochs']}"] if 'epochs' in cfg else [])
    deviations += ["DataLoader: the training loader records its batches and the network's state after every step (trace)"] if cfg.get('trace') else []
    return net.state_dict(), patches, deviations

def official_tsbd(repo:Path, bb:Path, fst:Path, job:Path):
    "TSBD's tsbd.py mitigation() inside BackdoorBench, at our chosen neuron ratio; returns (state, patches, deviations)."
    state, arrays, cfg = load_job(job)
    os.chdir(bb); sys.path.insert(0, str(bb))
    import argparse as ap, importlib.util
    spec = importlib.util.spec_from_file_location('tsbd_official', repo/'tsbd.py'); T = importlib.util.module_from_spec(spec); spec.loader.exec_module(T)
    spec = importlib.util.spec_from_file_location('fst_resnet', fst/'models'/'resnet.py'); R = importlib.util.module_from_spec(spec); spec.loader.exec_module(R)
    from utils.bd_dataset_v2 import dataset_wrapper_with_transform
    width, classes = state['conv1.weight'].shape[0], state['linear.weight'].shape[0]
    built = []
    def make(*a, **k): built.append(build_resnet18(R, width, classes)); return built[-1]
    T.generate_cls_model = make
    T.reinit_ratio = [cfg['neuron_ratio']]
    class Triggered(RawImages):  # BackdoorBench's poisoned items: (x, target, index, poisoned, true label)
        def __getitem__(self, i): x, _ = super().__getitem__(i); return x, cfg['target'], i, 1, int(arrays['bd_y'][i])
    result = {'clean_train': dataset_wrapper_with_transform(RawImages(arrays['clean_x'], arrays['clean_y'])),
              'clean_test': dataset_wrapper_with_transform(RawImages(arrays['test_x'], arrays['test_y'])),
              'bd_test': dataset_wrapper_with_transform(Triggered(arrays['bd_x'], arrays['bd_y'])), 'model': state}
    T.load_attack_result = lambda path: result
    out = f'{job}/official/'; os.makedirs(out)
    np.savetxt(out + 'index.txt', np.arange(len(arrays['clean_x'])), fmt='%d')
    parser = ap.ArgumentParser(); T.tsbd.add_arguments(parser)
    argv = ['--yaml_path', str(repo/'tsbd'/'config.yaml'), '--device', 'cpu', '--amp', 'False', '--pin_memory', 'False', '--non_blocking', 'False',
            '--prefetch', 'False', '--dataset', 'cifar10', '--model', 'resnet18', '--record_layer', 'layer4.1.conv2.weight',
            '--random_seed', str(cfg['seed'])]
    for k, flag in (('unlearn_max_epochs', '--epochs'), ('ft_epochs', '--ft_epoch')):
        if k in cfg: argv += [flag, str(cfg[k] - (k == 'ft_epochs'))]  # the code runs ft_epoch + 1 epochs
    args = parser.parse_args(argv)
    args.result_file, args.num_workers, args.index = cfg['record'], 0, out + 'index.txt'
    try:
        method = T.tsbd(args); T.args = method.args
        method.args.save_path = method.args.log = method.args.checkpoint_save = out
        method.mitigation()
    finally: shutil.rmtree(bb/'record'/cfg['record'], ignore_errors=True)  # the folders its constructor makes for our record
    patches = ['module-level `args`: set to the parsed arguments (mitigation() reads a global that only exists when run as a script)',
               'load_attack_result: our weights and images instead of torch.load of a record (which torch >= 2.6 refuses)',
               'generate_cls_model: the official CIFAR ResNet-18 class of the FST repository (BackdoorBench has none) at our width',
               f"reinit_ratio: [{cfg['neuron_ratio']}], the ratio our clean-data rule chose, instead of the sweep of 11 that picks none",
               'num_workers 0 (the parser declares it a float, which crashes the data loader); index file = our clean images in order']
    deviations = ['--device cpu, --amp False', "--random_seed: each row's defense seed", 'record_layer layer4.1.conv2.weight (logging only)',
                  'official evaluations run on small test subsets; the reported metrics are ours, on the full sets']
    deviations += [f"{k} {cfg[k]} (smoke)" for k in ('unlearn_max_epochs', 'ft_epochs') if k in cfg]
    return method.trainer.model.state_dict(), patches, deviations

def official_nft(repo:Path, job:Path):
    "NFT's src/Remove_Backdoor.py run as a script on our weights and images; returns (state with masks folded, patches, deviations)."
    state, arrays, cfg = load_job(job)
    src_dir = repo/'src'; os.chdir(src_dir); sys.path.insert(0, str(src_dir))
    import torchvision, networks, data.badnets_blend as poison
    width, classes = state['conv1.weight'].shape[0], state['linear.weight'].shape[0]
    built = []
    def make(num_classes=10, BN_layer=nn.BatchNorm2d, **k): built.append(build_resnet18(networks, width, classes, _BN_layer=BN_layer)); return built[-1]
    plain = make(); plain.load_state_dict(state, strict=True); built.clear()  # the key map loads strictly into the official class
    networks.resnet18 = make
    test = (arrays['test_x'], arrays['test_y'])
    torchvision.datasets.CIFAR10 = lambda root, train, download, transform: RawImages(*((arrays['clean_x'], arrays['clean_y']) if train else test), transform)
    poison.split_dataset = lambda dataset, val_frac, perm: (None, dataset)
    poison.add_predefined_trigger_cifar = lambda data_set, trigger_info, exclude_target=True: RawImages(arrays['bd_x'], np.full(len(arrays['bd_x']), cfg['target']), data_set.transform)
    torch.Tensor.cuda = lambda self, *a, **k: self
    nn.Module.cuda = lambda self, *a, **k: self
    torch.cuda.set_device = lambda *a, **k: None
    text = (src_dir/'Remove_Backdoor.py').read_text()
    fixes = {'    nb_samples    = 0\n': '    nb_samples    = 0\n    total, correct = 0, 0\n',
             'STD_CIFAR10  = (0.2023, 0.1994, 0.2010)': f'STD_CIFAR10  = {STD}'}
    for old, new in fixes.items():
        if text.count(old) != 1: raise RuntimeError(f"NFT's Remove_Backdoor.py has changed: {old.strip()!r} not found once; update the harness.")
        text = text.replace(old, new)
    out = job/'official'; out.mkdir()
    torch.save(state, Path(out)/'backdoored.pt')
    steps = cfg.get('rounds', 5) * cfg.get('steps_per_round', 200)
    sys.argv = ['Remove_Backdoor.py', '--arch', 'resnet18', '--checkpoint', f'{out}/backdoored.pt', '--poison-type', 'badnets',
                '--val-ratio', '0.01', '--output-dir', f'{out}/', '--target_label', str(cfg['target'])]
    if 'rounds' in cfg: sys.argv += ['--nb-epochs', str(steps), '--epoch-aggregation', str(cfg['steps_per_round'])]
    np.random.seed(cfg['seed']); torch.manual_seed(cfg['seed'])
    exec(compile(text, str(src_dir/'Remove_Backdoor.py'), 'exec'), {'__name__': '__main__', '__file__': str(src_dir/'Remove_Backdoor.py')})
    net = built[-1]
    missing = [k for k in net.state_dict() if 'neuron_mask' not in k and k not in state]
    if missing: raise RuntimeError(f"NFT's load_model would keep random values for {missing[:3]}...; the key map is incomplete.")
    tuned = {k: v.clone() for k, v in net.state_dict().items() if 'neuron_mask' not in k}
    for name, p in net.named_parameters():
        if name.endswith('.neuron_mask'): tuned[name[:-len('.neuron_mask')] + '.weight'] *= p.detach()  # fold each mask into its gamma
    patches = ['Remove_Backdoor.py, source: `total` and `correct` set to 0 before the loop that increments them (UnboundLocalError)',
               'the README\'s --val-frac is not a flag; --val-ratio is passed', '.cuda() and torch.cuda.set_device made no-ops (CPU)',
               'networks.resnet18: the official class built at our width, weights loaded strictly',
               'CIFAR10 and split_dataset: no download; the validation set is exactly our defender images',
               'add_predefined_trigger_cifar: our triggered test subset']
    deviations = [f'normalisation std {STD} (ours, the model was trained with it) instead of NFT\'s (0.2023, 0.1994, 0.2010)',
                  "numpy and torch seeded with each row's defense seed (the official script seeds neither)",
                  'official evaluations run on small test subsets; the reported metrics are ours, on the full sets']
    deviations += [f"{steps} steps in rounds of {cfg['steps_per_round']} (smoke)"] if 'rounds' in cfg else []
    return tuned, patches, deviations


def worker(argv):
    "Entry of the child process: `crosscheck.py _worker METHOD JOB REPO...`; writes JOB/purified.safetensors and JOB/report.json."
    from safetensors.torch import save_file
    method, job, repos = argv[0], Path(argv[1]), [Path(p) for p in argv[2:]]
    torch.set_num_threads(int(os.environ.get('CROSSCHECK_THREADS', torch.get_num_threads())))
    t0 = time.perf_counter()
    state, patches, deviations = {'fst': official_fst, 'tsbd': official_tsbd, 'nft': official_nft}[method](*repos, job)
    seconds = time.perf_counter() - t0
    save_file({k: v.contiguous() for k, v in state.items()}, job/'purified.safetensors')
    (job/'report.json').write_text(json.dumps(dict(seconds=round(seconds, 2), patches=patches, deviations=deviations)))


# ---- the parent: cases, our run, the official run, evaluation, results ---------------------------------------------
def commit_of(path:Path):
    "The checkout's commit, or 'unknown' when it is not a git work tree."
    r = subprocess.run(['git', '-C', str(path), 'rev-parse', 'HEAD'], capture_output=True, text=True)
    return r.stdout.strip() if r.returncode == 0 else 'unknown'

def case_key(case:dict): # a case, with the defenses' seed as 'defense_seed'
    return hashlib.sha256(json.dumps({k: v for k, v in case.items() if k != 'methods'}, sort_keys=True).encode()).hexdigest()[:12]

def prepare(case:dict, device='cpu'):
    "The case's model, zoo record, defender images, test set and triggered test set."
    from backdoorpure.data import load_dataset
    from backdoorpure.defense import defender_data
    from backdoorpure.zoo import attack_overrides, backdoored_model
    c = case
    model, rec = backdoored_model('cifar10', c['arch'], c['attack'], c['ratio'], c['seed'], c['recipe'], device, width=c['width'],
                                  train_images=c['train_images'], holdout=c['holdout'], train_overrides=attack_overrides(c['epochs'], c['ratio'], c['attacker']))
    data = load_dataset('cifar10', device=device)
    clean = defender_data(rec, data.train, c['clean_source'], c['clean_share'], c['seed'])
    test = data.test.sample(c['test_images'])
    return model, rec, clean, test, rec['attack'].poison_test(test)

def nhwc(images): return images.x.permute(0, 2, 3, 1).contiguous().cpu().numpy()

def run_official(method:str, repos:dict, model, rec, clean, test, ptest, settings:dict, threads:int, eval_images:int=200,
                 trace_to:Path|None=None): # where to move the worker's trace file (settings with trace=True)
    "The official purification of `model` in a child process; returns (our model with its weights, seconds, patches, deviations)."
    from safetensors.torch import load_file, save_file
    from backdoorpure.models import load_state_strict
    with tempfile.TemporaryDirectory(prefix=f'crosscheck_{method}_') as d:
        job = Path(d)
        save_file({k: v.contiguous() for k, v in official_state(model).items()}, job/'model.safetensors')
        n = min(eval_images, len(test), len(ptest))
        np.savez(job/'data.npz', clean_x=nhwc(clean), clean_y=clean.y.cpu().numpy(), test_x=nhwc(test)[:n], test_y=test.y[:n].cpu().numpy(),
                 bd_x=nhwc(ptest)[:n], bd_y=ptest.y[:n].cpu().numpy())
        (job/'job.json').write_text(json.dumps(dict(settings, target=rec['attack'].target, ratio=rec['config']['ratio'], record=f'backdoorpure-{rec["key"]}')))
        needs = {'fst': ['fst'], 'tsbd': ['tsbd', 'backdoorbench', 'fst'], 'nft': ['nft']}[method]
        args = [sys.executable, str(Path(__file__).resolve()), '_worker', method, str(job)] + [str(repos[n]) for n in needs]
        env = dict(os.environ, CROSSCHECK_THREADS=str(threads), PYTHONPATH=str(ROOT))
        r = subprocess.run(args, env=env, capture_output=True, text=True)
        if r.returncode != 0: raise RuntimeError(f"official {method} failed (exit {r.returncode}):\n{r.stderr[-3000:]}")
        report = json.loads((job/'report.json').read_text())
        theirs = load_state_strict(copy.deepcopy(model).cpu(), from_official(load_file(job/'purified.safetensors')), f'official {method}')
        if trace_to is not None: shutil.move(job/'trace.safetensors', trace_to)
    return theirs, report['seconds'], report['patches'], report['deviations']

def verdict(ours:dict, theirs:dict):
    "'agrees' within 10 points of ASR and 2 of C-Acc (both in %), else 'differs'; seed spreads are compared in 24_crosscheck."
    close = abs(ours['asr'] - theirs['asr']) <= 10 and abs(ours['c_acc'] - theirs['c_acc']) <= 2
    return 'agrees' if close else 'differs'

def percent(metrics:dict): # from `backdoor_metrics`
    "C-Acc, ASR and RA in %, two decimals, as the results files hold them."
    return {k: round(100 * metrics[k], 2) for k in ('c_acc', 'asr', 'ra')}

def results_doc(path:Path, method:str):
    "The results file of `method` at `path`, or an empty one."
    return json.loads(path.read_text()) if path.exists() else dict(method=method, rows=[])

def crosscheck(repos:dict, scale:str='smoke', out:Path=ROOT/'results'/'crosscheck', methods=METHODS, threads:int=0, device='cpu',
               defense_seeds=None, attacks=None, ratios=None): # seeds of both sides' defenses (default: the model's); only these attacks, ratios
    "Run every case of `scale` for `methods`; rows are added to out/{method}.json as they finish and reused when present."
    from backdoorpure.core import write_json
    from backdoorpure.defense import purify
    from backdoorpure.metrics import backdoor_metrics
    threads = threads or torch.get_num_threads()
    cases = [dict(c, defense_seed=s) for c in CASES[scale] if (attacks is None or c['attack'] in attacks) and (ratios is None or c['ratio'] in ratios)
             for s in (defense_seeds or [c['seed']])]
    befores = {}
    for case in cases:
        todo = [m for m in case['methods'] if m in methods]
        files = {m: Path(out)/f'{m}.json' for m in todo}
        todo = [m for m in todo if not any(r['case_key'] == case_key(case) for r in results_doc(files[m], m)['rows'])]
        if not todo: continue
        model, rec, clean, test, ptest = prepare(case, device)
        target = rec['attack'].target
        if (rec['key'], case['test_images']) not in befores:  # the undefended model once, not once per defense seed
            befores[rec['key'], case['test_images']] = backdoor_metrics(model, test, ptest, target, dtype=DTYPE)
        before = befores[rec['key'], case['test_images']]
        for m in todo:
            settings = dict(seed=case['defense_seed'], **(SMOKE[m] if scale == 'smoke' else {}))
            config = dict(settings); config.pop('seed')
            _, ours = purify(model, clean, m, config, test, ptest, target, device, case['defense_seed'], before, dtype=DTYPE)
            if m == 'tsbd': settings['neuron_ratio'] = ours['log']['neuron_ratio']
            theirs_model, secs, patches, deviations = run_official(m, repos, model, rec, clean, test, ptest, settings, threads)
            theirs = backdoor_metrics(theirs_model, test, ptest, target, dtype=DTYPE)
            row = dict(case_key=case_key(case), case={k: v for k, v in case.items() if k != 'methods'}, model_key=rec['key'],
                       clean_images=len(clean), test_images=len(test), before=percent(before), ours=dict(percent(ours), seconds=ours['seconds']),
                       official=dict(percent(theirs), seconds=secs), settings=settings,
                       device=ours['device'], torch=ours['torch'], dtype=DTYPE, threads=threads)
            doc = results_doc(files[m], m)  # read again: another process may have added rows
            doc.update(official_commit=commit_of(repos['tsbd' if m == 'tsbd' else m]), patches=patches, deviations=deviations,
                       **({'backdoorbench_commit': commit_of(repos['backdoorbench']), 'fst_commit': commit_of(repos['fst'])} if m == 'tsbd' else {}))
            row['verdict'] = verdict(row['ours'], row['official'])
            doc['rows'].append(row); write_json(files[m], doc)
            print(f"{m} {case['attack']} {case['ratio']}: ours {row['ours']['asr']:.1f}/{row['ours']['c_acc']:.1f}, "
                  f"official {row['official']['asr']:.1f}/{row['official']['c_acc']:.1f} (ASR/C-Acc %): {row['verdict']}", flush=True)
    return {m: json.loads((Path(out)/f'{m}.json').read_text()) for m in methods if (Path(out)/f'{m}.json').exists()}

def check_repos(repos:dict, methods):
    "Refuse a missing or wrong checkout with one line that says which file was expected."
    need = {'fst': [('fst', 'fine_tune/ft.py'), ('fst', 'models/resnet.py')], 'nft': [('nft', 'src/Remove_Backdoor.py')],
            'tsbd': [('tsbd', 'tsbd.py'), ('tsbd', 'tsbd/config.yaml'), ('backdoorbench', 'defense/base.py'), ('fst', 'models/resnet.py')]}
    for m in methods:
        for name, rel in need[m]:
            if repos.get(name) is None: raise SystemExit(f"crosscheck: {m} needs --{name} PATH (a checkout of the official repository).")
            if not (Path(repos[name])/rel).exists(): raise SystemExit(f"crosscheck: --{name} {repos[name]} has no {rel}; is it the right checkout?")

def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ['_worker']: return worker(argv[1:])
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    for name in ('fst', 'tsbd', 'backdoorbench', 'nft'): p.add_argument(f'--{name}', type=Path, help=f'local checkout of the official {name} repository')
    p.add_argument('--scale', choices=list(CASES), default='smoke')
    p.add_argument('--methods', default=','.join(METHODS), help='comma-separated subset of fst,tsbd,nft')
    p.add_argument('--out', type=Path, default=ROOT/'results'/'crosscheck')
    p.add_argument('--threads', type=int, default=0, help='torch threads (0: torch default)')
    p.add_argument('--defense-seeds', default='', help="comma-separated seeds of both sides' defenses (default: the model's seed)")
    p.add_argument('--attacks', default='', help='comma-separated attacks: run only these cases')
    p.add_argument('--ratios', default='', help='comma-separated poisoning ratios: run only these cases (e.g. 0.01 for the FST table\'s)')
    a = p.parse_args(argv)
    methods = [m.strip() for m in a.methods.split(',') if m.strip()]
    if bad := set(methods) - set(METHODS): p.error(f"unknown methods {sorted(bad)}; choose from {', '.join(METHODS)}")
    repos = {k: getattr(a, k) for k in ('fst', 'tsbd', 'backdoorbench', 'nft')}
    check_repos(repos, methods)
    if a.threads: torch.set_num_threads(a.threads)
    seeds = [int(s) for s in a.defense_seeds.split(',') if s.strip()] or None
    attacks = [s.strip() for s in a.attacks.split(',') if s.strip()] or None
    ratios = [float(s) for s in a.ratios.split(',') if s.strip()] or None
    crosscheck({k: v.resolve() for k, v in repos.items() if v}, a.scale, a.out, methods, a.threads, 'cpu', seeds, attacks, ratios)

if __name__ == '__main__': main()
