"The backdoorpure command: help everywhere, clear one-line errors, and a real training run."
import json, os, subprocess, sys
from pathlib import Path
import pytest

EXE = Path(sys.executable).parent/'backdoorpure'  # the console script `pip install` made

def run(*args):
    return subprocess.run([str(EXE), *args], capture_output=True, text=True, timeout=600)

@pytest.mark.parametrize('args', [['--help'], ['train', '--help'], ['demo', '--help'], ['purify', '--help'], ['verify', '--help'], ['info', '--help']])
def test_help(args):
    r = run(*args)
    assert r.returncode == 0 and 'usage: backdoorpure' in r.stdout and '--' in r.stdout

def test_bad_input_gives_one_line_and_status_2(tmp_path):
    r = run('train', '--dataset', 'imagenet', '--out', str(tmp_path/'x'))
    assert r.returncode == 2 and "Unknown dataset 'imagenet'. Known datasets:" in r.stderr and 'Traceback' not in r.stderr
    r = run('train', '--dataset', 'synthetic', '--arch', 'vit', '--out', str(tmp_path/'x'))
    assert r.returncode == 2 and 'Known models:' in r.stderr
    assert not any(tmp_path.iterdir())

def test_train_writes_a_checkpoint_with_metrics(tmp_path):
    r = run('train', '--dataset', 'synthetic', '--width', '8', '--epochs', '2', '--device', 'cpu', '--out', str(tmp_path/'clean'))
    assert r.returncode == 0, r.stderr
    side = json.loads((tmp_path/'clean.json').read_text())
    assert 0 <= side['metrics']['c_acc'] <= 1 and side['run']['seed'] == 0 and len(side['history']) == 2
    assert f"C-Acc {100*side['metrics']['c_acc']:.2f}%" in r.stdout

def test_purify_a_checkpoint_and_refuse_bad_settings(tmp_path):
    r = run('train', '--dataset', 'synthetic', '--width', '4', '--epochs', '1', '--device', 'cpu', '--out', str(tmp_path/'m'))
    assert r.returncode == 0, r.stderr
    r = run('purify', str(tmp_path/'m'), '--method', 'fst', '--set', 'epochs=1', 'alpha=0.5', '--attack', 'badnets',
            '--clean-share', '0.1', '--device', 'cpu', '--out', str(tmp_path/'p'))
    assert r.returncode == 0, r.stderr
    side = json.loads((tmp_path/'p.json').read_text())
    assert side['report']['config']['alpha'] == 0.5 and side['report']['method'] == 'fst' and 'fst' in r.stdout and 'none' in r.stdout
    r = run('purify', str(tmp_path/'m'), '--set', 'alhpa=0.5', '--device', 'cpu', '--out', str(tmp_path/'q'))
    assert r.returncode == 2 and "Unknown config key 'alhpa'" in r.stderr and not (tmp_path/'q.json').exists()
    r = run('purify', str(tmp_path/'m'), '--method', 'abl', '--device', 'cpu', '--out', str(tmp_path/'q'))
    assert r.returncode == 2 and 'Known defenses: anp, clp, fe-tuning, fp, fst, ft, ft-init, ft-sam, i-bau, lp, nad, nft, rnp, tsbd' in r.stderr

def test_bad_arguments_fail_before_any_work(tmp_path):
    "Names, numbers, missing inputs and unwritable outputs exit 2 with one line, before data loads or a model trains."
    env = dict(os.environ, BACKDOORPURE_CACHE=str(tmp_path/'cache'), BACKDOORPURE_DATA=str(tmp_path/'no-data'))  # no data to load
    (tmp_path/'file').write_text('x')
    cases = [(['train', '--epochs', '0', '--out', str(tmp_path/'m')], '--epochs must be in [1, inf], got 0'),
             (['train', '--dataset', 'synthetic', '--out', str(tmp_path/'file'/'sub'/'m')], 'is a file, so the folder'),
             (['demo', '--methods', 'fst', 'abl', '--out', str(tmp_path/'demo')], "Unknown defense 'abl'"),
             (['attack', '--ratio', '0'], 'poisoning ratio must be in (0, 1], got 0.0'),
             (['purify', str(tmp_path/'none'), '--dtype', 'half', '--out', str(tmp_path/'p')], "Unknown dtype 'half'"),
             (['purify', str(tmp_path/'none'), '--out', str(tmp_path/'p')], 'none.safetensors is missing'),
             (['convert', str(tmp_path/'none.pt'), '--out', str(tmp_path/'c')], 'No BackdoorBench record at')]
    for args, message in cases:
        r = subprocess.run([str(EXE), *args], capture_output=True, text=True, timeout=120, env=env)
        assert r.returncode == 2 and message in r.stderr and len(r.stderr.strip().splitlines()) == 1, (args, r.stderr)
    assert sorted(p.name for p in tmp_path.iterdir()) == ['file']  # nothing written, no cache made
