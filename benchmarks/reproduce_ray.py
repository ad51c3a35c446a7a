"""Wall time of one reproduce grid in this process against `--ray auto` with the same machine's cores as Ray workers,
with their ratio measured in the same run.

    python benchmarks/reproduce_ray.py                  # the smoke grid, every table: a few minutes on 2 cores
    python benchmarks/reproduce_ray.py --scale cpu --tables no_defense --seeds 0   # hours on 2 cores

Each mode starts from an empty zoo cache and an empty results folder (both temporary), so both train every model and
compute every row; the in-process run uses torch's default threads, the Ray run one thread per worker and as many
workers as cores. Only model training is spread over workers; the tables' notebooks run one after another in both.
Checks that both reports hold the same cells, and writes benchmarks/results/reproduce_ray_<cpu>.json (atomically),
naming the CPU, its core count, the Ray and torch versions and the number of runs."""
import argparse, os, re, subprocess, sys, tempfile, time
from pathlib import Path
import pandas as pd
import ray, torch
from backdoorpure.core import device_name, write_json

def timed(args, cache):
    "Run `backdoorpure reproduce ARGS` with its own zoo cache; returns its wall seconds."
    env = dict(os.environ, BACKDOORPURE_CACHE=str(cache), BACKDOORPURE_PROGRESS='0')
    t0 = time.perf_counter()
    r = subprocess.run([str(Path(sys.executable).parent/'backdoorpure'), 'reproduce', *args], capture_output=True, text=True, env=env)
    if r.returncode: sys.exit(f"reproduce {' '.join(args)} failed:\n{r.stderr[-3000:]}")
    return time.perf_counter() - t0

def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--scale', default='smoke'); p.add_argument('--tables', default='no_defense,fst,tsbd,nft'); p.add_argument('--seeds', default=None)
    a = p.parse_args()
    grid = ['--scale', a.scale, '--tables', a.tables, *(['--seeds', a.seeds] if a.seeds else [])]
    cores = os.cpu_count()
    with tempfile.TemporaryDirectory() as d:
        d = Path(d)
        local = timed([*grid, '--out', str(d/'local')], d/'cache-local')
        on_ray = timed([*grid, '--out', str(d/'ray'), '--ray', 'auto', '--threads', '1'], d/'cache-ray')
        cells = lambda o: pd.read_csv(o/'report.csv').query('seeds > 0')[['table', 'scale', 'attack', 'ratio', 'method', 'seeds']]
        same = cells(d/'local').reset_index(drop=True).equals(cells(d/'ray').reset_index(drop=True))
    out = dict(benchmark='reproduce_ray', scale=a.scale, tables=a.tables.split(','), seeds=a.seeds, device_name=device_name(torch.device('cpu')),
               cores=cores, ray_workers=cores, torch_version=torch.__version__, ray_version=ray.__version__, runs=1,
               in_process_s=round(local, 1), ray_auto_s=round(on_ray, 1), ray_over_in_process=round(on_ray / local, 2), same_cells=same)
    print(f"{a.scale} grid ({a.tables}) on {out['device_name']}: in-process {local:.0f} s, --ray auto ({cores} workers) {on_ray:.0f} s, "
          f"ratio {out['ray_over_in_process']:.2f}; same cells: {same}")
    path = Path('benchmarks/results')/f"reproduce_ray_{re.sub('[^a-z0-9]+', '-', out['device_name'].lower()).strip('-')}.json"
    write_json(path, out); print(f"wrote {path}")

if __name__ == '__main__': main()
