"""fp32 against bf16 on the same seeds: each cached fp32 zoo model gets a bf16 twin (the same config but its precision,
trained on a miss), both are measured on the full test set, and the backdoored ones that have a hold-out are purified by
each defense in their own precision on that hold-out. One JSON file per measurement under
results/precision-parity/cpu/rows/ (written atomically; a rerun skips what exists), then parity.csv beside it.

    python tools/precision_parity.py f805caea2d4fe4b18913 --defenses fst,nft,tsbd --threads 1

Models only (no defenses): --defenses ''. Aggregate the rows already there: no keys."""
import argparse, json
from pathlib import Path
import pandas as pd
import torch
from backdoorpure.core import Config, atomic_write, config_key, write_json
from backdoorpure.data import load_dataset
from backdoorpure.defense import defender_data, purify
from backdoorpure.zoo import cached_model, zoo_dir

OUT = Path(__file__).resolve().parents[1]/'results'/'precision-parity'/'cpu'
FST_TUNINGS = (0, 1, 2)  # FST's result varies with its tuning seed; its table runs three

def twin(key:str): # zoo key of a cached fp32 model
    "The config of `key` and that of its bf16 twin."
    path = zoo_dir()/key/'entry.json'
    if not path.exists(): raise SystemExit(f"{key} is not in the zoo ({zoo_dir()}); train it first (its table's notebook does).")
    cfg = Config(json.loads(path.read_text())['config'])
    if cfg['train']['dtype'] != 'fp32': raise SystemExit(f"{key} was trained in {cfg['train']['dtype']}; pass the key of an fp32 model.")
    return cfg, Config(cfg, train=dict(cfg['train'], dtype='bf16'))

def model_row(cfg, pair):
    "C-Acc (and ASR, RA) of the model of `cfg` on the full test set in its own precision, as its zoo entry recorded them, with its training time."
    _, rec = cached_model(cfg, 'cpu'); dtype = cfg['train']['dtype']; m = rec['metrics']
    return dict(kind='model', pair=pair, model_key=config_key(cfg), attack=cfg['attack'] or 'clean', ratio=cfg['ratio'], seed=cfg['seed'],
                dtype=dtype, epochs=cfg['train']['epochs'], train_seconds=rec['run']['wall_s'], **{k: round(100 * v, 2) for k, v in m.items()})

def defense_rows(cfg, data, pair, method, seeds):
    "`method` with each tuning seed of `seeds` on the model of `cfg`, on its hold-out, in the model's precision."
    model, rec = cached_model(cfg, 'cpu'); dtype = cfg['train']['dtype']
    clean, poisoned = defender_data(rec, data.train, 'holdout'), rec['attack'].poison_test(data.test)
    for s in seeds:
        _, r = purify(model, clean, method, test=data.test, poisoned=poisoned, device='cpu', seed=s, dtype=dtype)
        yield s, dict(kind='defense', pair=pair, model_key=config_key(cfg), attack=cfg['attack'], ratio=cfg['ratio'], seed=cfg['seed'],
                      dtype=dtype, method=method, tuning_seed=s, seconds=r['seconds'], clean_images=len(clean),
                      **{k: round(100 * r[k], 2) for k in ('c_acc', 'asr', 'ra')}, log=r['log'])

def table(rows:list): # every row file's content
    "One line per model pair and per defense: fp32 and bf16 side by side, and bf16 minus fp32."
    df = pd.DataFrame(rows); df['method'] = df.get('method', pd.Series(dtype=object)).fillna('none')
    df['tuning_seed'] = df.get('tuning_seed', pd.Series(dtype=float)).fillna(0).astype(int)
    wide = df.pivot_table(index=['attack', 'ratio', 'seed', 'method', 'tuning_seed'], columns='dtype', values=['c_acc', 'asr'], aggfunc='first')
    wide.columns = [f'{m} {d}' for m, d in wide.columns]
    for m in ('c_acc', 'asr'):
        if f'{m} fp32' in wide and f'{m} bf16' in wide: wide[f'{m} bf16-fp32'] = (wide[f'{m} bf16'] - wide[f'{m} fp32']).round(2)
    return wide.reset_index()

def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('keys', nargs='*', help='zoo keys of fp32 models')
    ap.add_argument('--defenses', default='fst,nft,tsbd', help="comma-separated defenses for backdoored models with a hold-out ('' for none)")
    ap.add_argument('--threads', type=int, default=None)
    a = ap.parse_args()
    if a.threads: torch.set_num_threads(a.threads)
    data = load_dataset('cifar10'); rows = OUT/'rows'
    for key in a.keys:
        for cfg in twin(key):
            name = rows/f'{key}_{cfg["train"]["dtype"]}.json'
            if not name.exists(): write_json(name, model_row(cfg, key))
            print(name.read_text()[:300], flush=True)
            if cfg['attack'] is None or not cfg['holdout']: continue
            for method in filter(None, a.defenses.split(',')):
                file = lambda s: rows/f'{key}_{cfg["train"]["dtype"]}_{method}_{s}.json'
                todo = [s for s in (FST_TUNINGS if method == 'fst' else (0,)) if not file(s).exists()]
                for s, row in defense_rows(cfg, data, key, method, todo) if todo else ():  # no model load when every row exists
                    write_json(file(s), row); print(json.dumps(row)[:300], flush=True)
    found = [json.loads(p.read_text()) for p in sorted(rows.glob('*.json'))]
    if found:
        atomic_write(OUT/'parity.csv', table(found).to_csv(index=False)); print(OUT/'parity.csv')

if __name__ == '__main__': main()
