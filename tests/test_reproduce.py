"`backdoorpure reproduce`: the same report in this process and under a local Ray with a worker killed mid-task, resumable, and bad input refused in one line."
import os, subprocess, sys, threading, time
import pandas as pd
import pytest
from conftest import cifar_available

from pathlib import Path
EXE = [str(Path(sys.executable).parent/'backdoorpure')]  # the console script `pip install` made
needs_cifar = pytest.mark.skipif(not cifar_available(), reason='needs CIFAR-10 (set BACKDOORPURE_DATA)')
TABLES = ['no_defense', 'fst']  # the quickest two at the smoke scale; three models

def reproduce(out, cache, *extra):
    env = dict(os.environ, BACKDOORPURE_CACHE=str(cache), BACKDOORPURE_PROGRESS='0')
    return subprocess.run([*EXE, 'reproduce', '--tables', ','.join(TABLES), '--threads', '1', '--out', str(out), *extra],
                          capture_output=True, text=True, timeout=1200, env=env)

def numbers(out):
    "The report's lines in a fixed order: every measured number and verdict."
    return pd.read_csv(out/'report.csv').sort_values(['table', 'scale', 'attack', 'ratio', 'method']).reset_index(drop=True)

def kill_first_training_worker(stop, killed):
    "Kill -9 the first Ray worker seen training a model (process title ray::train_entry)."
    while not stop.is_set() and not killed:
        pids = subprocess.run(['pgrep', '-f', 'ray::train_entry'], capture_output=True, text=True).stdout.split()
        if pids: time.sleep(1); os.kill(int(pids[0]), 9); killed.append(int(pids[0]))
        time.sleep(0.2)

@needs_cifar
def test_ray_equals_in_process_and_survives_a_killed_worker(tmp_path):
    pytest.importorskip('ray')
    r = reproduce(tmp_path/'local', tmp_path/'cache-local')
    assert r.returncode == 0, r.stderr[-3000:]
    stop, killed = threading.Event(), []
    killer = threading.Thread(target=kill_first_training_worker, args=(stop, killed)); killer.start()
    try: r = reproduce(tmp_path/'ray', tmp_path/'cache-ray', '--ray', 'auto')
    finally: stop.set(); killer.join()
    assert r.returncode == 0, r.stderr[-3000:]
    assert killed, 'no Ray worker was seen training, so none was killed'
    pd.testing.assert_frame_equal(numbers(tmp_path/'local'), numbers(tmp_path/'ray'))
    assert (numbers(tmp_path/'ray').seeds > 0).sum() == 2 + 6  # two No-defense models; FST's model undefended and after five defenses
    again = reproduce(tmp_path/'ray', tmp_path/'cache-ray')  # resumable: nothing left to do
    assert again.returncode == 0 and '0 models trained, notebooks run: none' in again.stdout, again.stdout

@pytest.mark.parametrize('args, message', [
    (['--tables', 'fst,anp'], "Unknown table 'anp'"), (['--scale', 'big'], "Unknown scale 'big'"),
    (['--seeds', '0,one'], '--seeds takes comma-separated integers'), (['--time-budget', '-1'], '--time-budget must be in [0, inf]'),
    (['--ray', 'nohost'], "--ray takes 'auto' or HOST:PORT"), (['--ray', '127.0.0.1:9'], 'No Ray cluster answers at 127.0.0.1:9')])
def test_bad_input_is_one_line_exit_2_and_writes_nothing(tmp_path, args, message):
    t = time.time()
    r = subprocess.run([*EXE, 'reproduce', '--out', str(tmp_path/'out'), *args], capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and message in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert time.time() - t < 30 and not (tmp_path/'out').exists()

def test_unwritable_out_is_refused(tmp_path):
    (tmp_path/'file').write_text('x')
    r = subprocess.run([*EXE, 'reproduce', '--out', str(tmp_path/'file')], capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and 'is a file, not a folder' in r.stderr and len(r.stderr.strip().splitlines()) == 1
