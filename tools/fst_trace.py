"""Step-by-step trace of FST: our `tune` against the official fine_tune/ft.py, fed the same head, batches and order.

    python tools/fst_trace.py --fst PATH [--scale smoke|cpu-e60] [--attack blended] [--seed 0] [--out FILE]

The official code runs first (in its own process, as in tools/crosscheck.py) and records every training batch it drew
(its transform, its order) and the network's state before the first step and after each step. Our `tune` then runs
from the same weights with the official's re-drawn head and those batches, and after each step the largest difference
between the two states is measured. If the two codes compute the same thing, the differences stay at float rounding
and both purified models give the same ASR; then a gap between their results under different seeds is the seed's.
"""
import argparse, copy, tempfile, time
from pathlib import Path
import torch

import crosscheck as cc

class Replay:
    "Stands in for the clean ImageSet inside `tune`: each call of `batches` yields the next epoch's recorded batches."
    def __init__(self, epochs:list, device): self.epochs, self.device = iter(epochs), device
    def batches(self, *args, **kwargs): yield from next(self.epochs)

def find_case(scale:str, attack:str, ratio:float|None=None):
    "The scale's first FST case of `attack` (at `ratio` when given); ValueError when there is none."
    cases = [c for c in cc.CASES[scale] if c['attack'] == attack and 'fst' in c['methods'] and ratio in (None, c['ratio'])]
    if not cases: raise ValueError(f"scale {scale} has no FST case of {attack}" + (f" at ratio {ratio}" if ratio else '') + '; see CASES in tools/crosscheck.py')
    return cases[0]

def trace(repos:dict, scale:str='smoke', attack:str='badnets', seed:int=0, threads:int=0,
          epochs:int|None=None, # tuning epochs of both sides (default: the scale's, the official 10 beyond smoke)
          ratio:float|None=None): # the case's poisoning ratio (default: the scale's first FST case of `attack`)
    "Run the official FST with a recording loader, replay its batches through our `tune`; returns the results dict."
    import backdoorpure.fst as fst
    from backdoorpure.metrics import backdoor_metrics
    case = find_case(scale, attack, ratio)
    model, rec, clean, test, ptest = cc.prepare(case)
    settings = dict(seed=seed, trace=True) | (cc.SMOKE['fst'] if scale == 'smoke' else {}) | (dict(epochs=epochs) if epochs else {})
    threads = threads or torch.get_num_threads()
    with tempfile.TemporaryDirectory(prefix='fst_trace_') as d:
        from safetensors.torch import load_file
        theirs, secs, patches, deviations = cc.run_official('fst', repos, model, rec, clean, test, ptest, settings, threads, trace_to=Path(d)/'t.st')
        t = load_file(Path(d)/'t.st')
    steps = sum(k.startswith('y') for k in t)
    per_epoch = -(-len(clean) // fst.FST_DEFAULTS['batch_size'])
    batches = [(t[f'x{k}'], t[f'y{k}']) for k in range(steps)]
    epochs = [batches[i:i + per_epoch] for i in range(0, steps, per_epoch)]  # as the official loader gave them
    official = lambda k: {n.split(':', 1)[1]: v for n, v in t.items() if n.startswith(f's{k}:')}
    diffs, last = [], {}
    def compare(m, k):
        ref, ours = official(k), cc.official_state(m)
        d = {n: (ours[n].double() - ref[n].double()).abs().max().item() for n in ref if ref[n].is_floating_point()}
        diffs.append(max(d.values()))
        n = max(d, key=d.get)  # where the largest difference sits, and how large that tensor's values are
        last.update(tensor=n, abs_diff=float(f'{d[n]:.3g}'), largest_value=float(f'{ref[n].abs().max().item():.3g}'))
    head0 = official(0)
    def official_head(head, g):  # the head the official code re-drew, instead of ours
        with torch.no_grad(): head.weight.copy_(head0['linear.weight']); head.bias.copy_(head0['linear.bias'])
    ours_model, reinit = copy.deepcopy(model), fst.reinit_head
    fst.reinit_head = official_head
    try:
        t0 = time.perf_counter()
        fst.tune(ours_model, Replay(epochs, clean.device), dict(fst.FST_DEFAULTS, mode='fst', channels_last=False, epochs=len(epochs)), seed,
                 on_step=compare)
        ours_secs = time.perf_counter() - t0
    finally: fst.reinit_head = reinit
    target = rec['attack'].target
    return dict(case={k: v for k, v in case.items() if k != 'methods'}, model_key=rec['key'], defense_seed=seed, steps=steps,
                max_abs_diff_per_step=[float(f'{x:.3g}') for x in diffs], largest_final_diff=last,
                before=cc.percent(backdoor_metrics(model, test, ptest, target)), official=dict(cc.percent(backdoor_metrics(theirs, test, ptest, target)), seconds=secs),
                ours_on_official_batches=dict(cc.percent(backdoor_metrics(ours_model, test, ptest, target)), seconds=round(ours_secs, 2)),
                patches=patches, deviations=deviations, official_commit=cc.commit_of(repos['fst']), torch=torch.__version__, dtype='fp32', threads=threads)

def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--fst', type=Path, required=True, help='checkout of github.com/AISafety-HKUST/stable_backdoor_purification')
    p.add_argument('--scale', choices=list(cc.CASES), default='smoke')
    p.add_argument('--attack', default='badnets')
    p.add_argument('--ratio', type=float, default=None, help="the case's poisoning ratio (default: the scale's first FST case of the attack)")
    p.add_argument('--seed', type=int, default=0, help="both sides' defense seed (the official code's --random_seed)")
    p.add_argument('--epochs', type=int, default=None, help="tuning epochs (default: the scale's; the official 10 beyond smoke)")
    p.add_argument('--threads', type=int, default=0)
    p.add_argument('--out', type=Path, default=None, help='append the result to this JSON file (default: print only)')
    a = p.parse_args(argv)
    cc.check_repos({'fst': a.fst}, ['fst'])
    try: find_case(a.scale, a.attack, a.ratio)
    except ValueError as e: p.error(str(e))
    if a.threads: torch.set_num_threads(a.threads)
    r = trace({'fst': a.fst.resolve()}, a.scale, a.attack, a.seed, a.threads, a.epochs, a.ratio)
    print(f"{r['steps']} steps; largest state difference {max(r['max_abs_diff_per_step']):.3g}; ASR official {r['official']['asr']}%, "
          f"ours on the official batches {r['ours_on_official_batches']['asr']}%")
    if a.out:
        from backdoorpure.core import write_json
        doc = cc.results_doc(a.out, 'fst')
        doc['rows'] = [x for x in doc['rows'] if (x['model_key'], x['defense_seed']) != (r['model_key'], r['defense_seed'])] + [r]
        write_json(a.out, doc)
    return r

if __name__ == '__main__': main()
