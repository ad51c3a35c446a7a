"Property-based fuzzing (hypothesis): every declared value, command-line vector and mutated file gets a result or one clear error."
import contextlib, functools, io, os, pickle, shutil, tempfile
from pathlib import Path
import pytest, torch
from hypothesis import HealthCheck, given, settings, strategies as st
from backdoorpure.attacks import ATTACKS
from backdoorpure.cli import main
from backdoorpure.core import Config, check_config
from backdoorpure.data import read_packed, verify_manifest, write_packed
from backdoorpure.defense import DEFENSES, defense_config
from backdoorpure.interop import read_backdoorbench
from backdoorpure.models import create_model, load_checkpoint, save_checkpoint
from backdoorpure.train import RECIPES, TRAIN_RANGES, train_config

# CI runs the 'ci' profile; `HYPOTHESIS_PROFILE=long pytest tests/test_fuzz.py` runs 50 times as many examples.
settings.register_profile('ci', max_examples=40, deadline=None, suppress_health_check=list(HealthCheck), print_blob=True)
settings.register_profile('long', max_examples=2000, deadline=None, suppress_health_check=list(HealthCheck), print_blob=True)
settings.load_profile(os.environ.get('HYPOTHESIS_PROFILE', 'ci'))

HOSTILE = st.one_of(st.none(), st.booleans(), st.integers(-2**70, 2**70), st.floats(allow_nan=True, allow_infinity=True),
                    st.text(max_size=6), st.sampled_from(['', 'nan', 'inf', '-1', 'ｅｐｏｃｈ', 'auto', 'code', 'fp32']),
                    st.lists(st.integers(-3, 300), max_size=3), st.dictionaries(st.text(max_size=2), st.integers(), max_size=2))

# (what errors call the keys, defaults, ranges) of every declared component: defenses, attacks, training recipes
DECLARED = ([(f'{m} config key', DEFENSES.get(m).defaults, DEFENSES.get(m).ranges) for m in DEFENSES.names()] +
            [(f'{a} attack key', ATTACKS.get(a).defaults, ATTACKS.get(a).ranges) for a in ATTACKS.names()] +
            [('training config key', train_config(r), TRAIN_RANGES) for r in RECIPES])

@given(st.data())
def test_a_declared_value_is_kept_as_declared_or_refused_by_its_key(data):
    what, defaults, ranges = data.draw(st.sampled_from(DECLARED))
    key = data.draw(st.sampled_from(sorted(defaults)))
    value = data.draw(st.one_of(HOSTILE, st.just(defaults[key])))
    try: cfg = check_config(Config(defaults).merge({key: value}), defaults, ranges, what)
    except ValueError as e:
        assert str(e).startswith(f"{what} {key!r} must be ") and str(e).endswith(f", got {value!r}."), str(e)
        return
    assert check_config(cfg, defaults, ranges, what) == cfg                      # what is accepted passes again, unchanged
    assert type(cfg[key]) is type(defaults[key]) or defaults[key] is None or isinstance(defaults[key], (str, float)), (key, value)

def test_the_issue_example_names_key_type_range_and_value():
    with pytest.raises(ValueError, match=r"fst config key 'alpha' must be a finite number >= 0, got 'abc'\."): defense_config('fst', alpha='abc')

# Command line: one flag of `train` or `attack` set to a hostile string, the rest a tiny valid run on synthetic data.
FLAGS = {'train': ['--epochs', '--width', '--train-images', '--seed', '--dtype', '--recipe', '--dataset', '--arch', '--device'],
         'attack': ['--epochs', '--width', '--train-images', '--seed', '--dtype', '--recipe', '--ratio', '--holdout', '--target', '--attack']}
STRINGS = st.one_of(st.integers(-10**6, 10**6).map(str), st.floats(allow_nan=True, allow_infinity=True).map(repr), st.text(max_size=5),
                    st.sampled_from(['', '0', '-1', '1e400', 'nan', '3.5', 'bf16', 'fp8', 'cpu', 'cuda:7', 'ｅ', '1' * 30]))
CONCEPT = {'--arch': 'Unknown model', '--device': 'evice', '--ratio': 'poisoning ratio'}  # errors that name what the flag sets
SMALL = {'--epochs': 2, '--width': 16, '--train-images': 256, '--seed': 2**31}  # above these a valid run is not carried out, only checked

def run_cli(argv):
    "Exit code and stderr of `main(argv)` in this process."
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try: main(argv); code = 0
        except SystemExit as e: code = e.code
    return code, err.getvalue()

@given(cmd=st.sampled_from(sorted(FLAGS)), data=st.data())
def test_a_hostile_flag_exits_2_with_one_line_naming_it_and_writes_nothing(cmd, data):
    flag = data.draw(st.sampled_from(FLAGS[cmd])); value = data.draw(STRINGS)
    with tempfile.TemporaryDirectory() as d, pytest.MonkeyPatch.context() as mp:
        mp.setenv('BACKDOORPURE_CACHE', f'{d}/cache')
        base = {'--dataset': 'synthetic', '--arch': 'preact-resnet18', '--width': '4', '--epochs': '1', '--train-images': '64', '--device': 'cpu'}
        argv = [cmd, *[x for k, v in {**base, flag: value}.items() for x in (k, v)]] + (['--out', f'{d}/out/m'] if cmd == 'train' else [])
        try: number = float(value)
        except ValueError: number = None
        if flag in SMALL and number is not None and abs(number) > SMALL[flag]:  # a long valid run: check that it fails or passes its checks fast
            from backdoorpure.cli import build_parser, preflight
            try: preflight(build_parser().parse_args(argv))
            except (KeyError, ValueError, FileNotFoundError) as e: assert len(str(e).splitlines()) == 1
            except SystemExit as e: assert e.code == 2
            return
        code, err = run_cli(argv)
        written = [p for p in Path(d).rglob('*') if p.is_file()]
        if code == 0: assert written, 'a successful run wrote nothing'; return
        lines = err.strip().splitlines()
        assert code == 2, (argv, err)
        assert not written, (argv, written)                                       # nothing written, no zoo entry
        names = (flag, flag[2:], flag[2:].replace('-', '_'), CONCEPT.get(flag, flag))
        assert any(n in lines[-1] for n in names) and lines[-1].startswith(('backdoorpure', 'usage')), (argv, err)
        assert len(lines) == 1 or lines[0].startswith('usage:'), (argv, err)   # argparse's own errors come with its usage line

# Readers: real files mutated bytewise.
def mutate(data, raw:bytes):
    "Truncate, flip a byte, splice random bytes, or drop the file's head."
    how = data.draw(st.sampled_from(['truncate', 'flip', 'splice', 'behead']))
    i = data.draw(st.integers(0, max(0, len(raw) - 1)))
    if how == 'truncate': return raw[:i]
    if how == 'flip': return raw[:i] + bytes([raw[i] ^ data.draw(st.integers(1, 255))]) + raw[i + 1:] if raw else b'\x00'
    if how == 'splice': return raw[:i] + data.draw(st.binary(min_size=1, max_size=64)) + raw[i:]
    return raw[i:]

class Payload:
    "A pickle that would create a marker file when unpickled."
    def __init__(self, marker): self.marker = marker
    def __reduce__(self): return (open, (self.marker, 'w'))

@functools.cache
def originals():
    "A checkpoint, a packed dataset folder and a BackdoorBench-style record, each valid, as bytes per file."
    d = Path(tempfile.mkdtemp()); torch.manual_seed(0)
    model = create_model('preact-resnet18', 4, width=4)
    save_checkpoint(model, d/'ckpt', dataset='synthetic')
    import numpy as np
    write_packed(d/'pack', {'train': (np.zeros((3, 8, 8, 3), np.uint8), np.arange(3), {}), 'test': (np.ones((2, 8, 8, 3), np.uint8), np.arange(2), {})}, 'toy', list('abcd'))
    state = {k.replace('head.', 'linear.'): v for k, v in model.state_dict().items()}
    torch.save(dict(model_name='preactresnet18', model=state, num_classes=4, clean_data='cifar10'), d/'record.pt')
    files = {'ckpt.safetensors': d/'ckpt.safetensors', 'ckpt.json': d/'ckpt.json', 'record.pt': d/'record.pt',
             **{f'pack/{p.name}': p for p in (d/'pack').iterdir()}}
    out = {k: p.read_bytes() for k, p in files.items()}
    shutil.rmtree(d); return out

def read(folder:Path, name:str):
    "Read what `name` belongs to, as a user would."
    if name.startswith('ckpt'): return load_checkpoint(folder/'ckpt')
    if name == 'record.pt': return read_backdoorbench(folder/'record.pt')
    verify_manifest(folder/'pack', force=True); return read_packed(folder/'pack')

@given(data=st.data())
def test_a_mutated_file_is_read_or_refused_with_its_name(data):
    name = data.draw(st.sampled_from(sorted(originals())))
    with tempfile.TemporaryDirectory() as d, pytest.MonkeyPatch.context() as mp:
        mp.setenv('BACKDOORPURE_CACHE', f'{d}/cache'); folder = Path(d)
        for k, raw in originals().items(): (folder/k).parent.mkdir(exist_ok=True); (folder/k).write_bytes(raw)
        marker = folder/'payload-ran'
        if data.draw(st.booleans()) and name.endswith(('.pt', '.json')):   # a pickle with a payload in place of the file
            (folder/name).write_bytes(pickle.dumps(dict(model_name='preactresnet18', model=Payload(str(marker)))))
        else: (folder/name).write_bytes(mutate(data, originals()[name]))
        try: read(folder, name)
        except (ValueError, FileNotFoundError) as e:
            msg = str(e)
            assert len(msg.splitlines()) == 1 and str(folder) in msg, msg          # names a file of ours, in one line
        assert not marker.exists(), 'a pickled payload ran'
