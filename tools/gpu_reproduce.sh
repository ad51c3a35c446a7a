#!/usr/bin/env bash
# Reproduce the paper tables on a machine with a GPU, in four steps:
#   1. the environment: on a lent machine staged with ../shared/gpu/stage (wheels in /root/bp/site, data in
#      /root/bp/datasets) it uses those; elsewhere it installs the project with pip (online);
#   2. a smoke run of every table's notebook on the GPU (minutes): a notebook that breaks on a GPU breaks here, before
#      any paper-scale model has trained (the lesson of the last GPU run);
#   3. the attacker-recipe ablation at width 64 (nbs/25_attacker_recipe.paper.yaml: the official attacker's 100-epoch
#      recipe first), within ABLATION minutes: the one GPU result that decides which models the tables train on;
#   4. `backdoorpure reproduce --scale SCALE --time-budget MIN`: seed 0 of every table first, resumable.
# Usage: tools/gpu_reproduce.sh [MIN] [SCALE] [TABLES] [ABLATION]   (defaults: 10, paper-fast, every table, MIN; 0 skips step 3)
# Results go to results/ (and the report to results/report.md); under the device tool, $OUT also gets results.tgz
# (rows, tables, report and executed notebooks) and the log, since only $OUT comes back.
set -euo pipefail
cd "$(dirname "$0")/.."
budget=${1:-10}; scale=${2:-paper-fast}; tables=${3:-no_defense,fst,tsbd,nft}; ablation=${4:-$budget}
export PYTHONUNBUFFERED=1 BACKDOORPURE_PROGRESS=0
if [ -d /root/bp/site ]; then
  export PYTHONPATH=/root/bp/site:$PWD PATH=/root/bp/site/bin:$PATH BACKDOORPURE_DATA=/root/bp/datasets
elif ! python3 -c "import backdoorpure, papermill" 2>/dev/null; then
  python3 -m pip install -q -e ".[dev]"
fi
bp() { python3 -c "import sys; from backdoorpure.cli import main; main(sys.argv[1:])" "$@"; }
log=${OUT:-runs}/gpu_reproduce.log; mkdir -p runs "$(dirname "$log")"
step() { echo "[$(date -u +%H:%M:%S)] $*" | tee -a "$log"; }
python3 -c "import torch; assert torch.cuda.is_available(), 'no CUDA GPU visible'; print('GPU', torch.cuda.get_device_name(), 'torch', torch.__version__)" | tee -a "$log"
step "smoke: every table's notebook on the GPU"
bp reproduce --scale smoke --tables "$tables" --out runs/gpu-smoke 2>&1 | tail -3 | tee -a "$log"
if [ "$ablation" != 0 ]; then
  step "attacker-recipe ablation at width 64 within $ablation minutes (one JSON per item: an interrupted run keeps what it finished)"
  (cd nbs && timeout "${ablation}m" python3 -m papermill 25_attacker_recipe.ipynb ../runs/25_attacker_recipe.paper.ipynb \
     -f 25_attacker_recipe.paper.yaml 2>&1 | tail -3 | tee -a "$log") || step "ablation stopped at its budget"
fi
step "$scale: reproduce within $budget minutes"
bp reproduce --scale "$scale" --tables "$tables" --time-budget "$budget" 2>&1 | tail -4 | tee -a "$log"
step "done"
if [ -n "${OUT:-}" ]; then tar czf "$OUT/results.tgz" results/report.md results/report.csv results/*/"$scale" results/recipe-ablation/paper results/notebooks figures/report_*.png 2>/dev/null || true; fi
