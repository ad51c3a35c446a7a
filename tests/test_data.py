"Data: location, checksums, download conversion, every registered reader, device batches and splits, on real computation."
import gzip, hashlib, io, os, tarfile, urllib.error, urllib.request
import numpy as np, pytest, torch
from PIL import Image
import backdoorpure.data as D
from backdoorpure.core import make_generator
from conftest import needs_cifar

def fake_cifar_binary(tmp_path, n_per_batch=3, n_test=7, seed=0):
    "An archive in the layout of the official cifar-10-binary.tar.gz, with random pixels."
    rng = np.random.default_rng(seed)
    arrays, tar_path = {}, tmp_path/'cifar-10-binary.tar.gz'
    with tarfile.open(tar_path, 'w:gz') as tf:
        for name, n in [*((f'data_batch_{i}.bin', n_per_batch) for i in range(1, 6)), ('test_batch.bin', n_test)]:
            y = rng.integers(0, 10, n).astype(np.uint8); x = rng.integers(0, 256, (n, 3, 32, 32), dtype=np.uint8)
            raw = np.concatenate([y[:, None], x.reshape(n, -1)], 1).tobytes()
            info = tarfile.TarInfo(f'cifar-10-batches-bin/{name}'); info.size = len(raw)
            tf.addfile(info, io.BytesIO(raw)); arrays[name] = (x.transpose(0, 2, 3, 1), y.astype(np.int64))
    return tar_path, hashlib.md5(tar_path.read_bytes()).hexdigest(), arrays

def test_download_converts_the_official_binary_layout(tmp_path, cache):
    tar, md5, arrays = fake_cifar_binary(tmp_path)
    D.download_cifar10(tmp_path/'data', url=tar.as_uri(), md5=md5)
    xtr, ytr, xte, yte = D.read_cifar10(tmp_path/'data')
    want_x = np.concatenate([arrays[f'data_batch_{i}.bin'][0] for i in range(1, 6)])
    assert (xtr == want_x).all() and (ytr == np.concatenate([arrays[f'data_batch_{i}.bin'][1] for i in range(1, 6)])).all()
    x, y = arrays['test_batch.bin']
    order = np.lexsort((np.arange(len(y)), y))  # class-sorted, official order within a class, as the offline copy
    assert (xte == x[order]).all() and (yte == y[order]).all()

def test_download_with_wrong_md5_writes_nothing(tmp_path, cache):
    tar, _, _ = fake_cifar_binary(tmp_path)
    with pytest.raises(ValueError, match='md5'): D.download_cifar10(tmp_path/'data', url=tar.as_uri(), md5='0'*32)
    assert not (tmp_path/'data'/'cifar10').exists()

def test_offline_error_says_what_to_put_where(tmp_path, cache, monkeypatch):
    def offline(*a, **k): raise urllib.error.URLError('no network')
    monkeypatch.setattr(urllib.request, 'urlretrieve', offline)
    with pytest.raises(FileNotFoundError) as e: D.load_dataset('cifar10', root=tmp_path)
    msg = str(e.value)
    assert str(tmp_path/'cifar10'/'MANIFEST.json') in msg and 'BACKDOORPURE_DATA' in msg and 'no network' in msg

def packed(tmp_path, name='toy', n=30, classes=10, seed=0):
    rng = np.random.default_rng(seed)
    shards = {s: (rng.integers(0, 256, (n, 32, 32, 3), dtype=np.uint8), rng.integers(0, classes, n), {}) for s in ('train_0', 'train_1', 'test')}
    D.write_packed(tmp_path/name, shards, name, [str(c) for c in range(classes)])
    return tmp_path/name, shards

def test_missing_and_corrupt_files_are_named(tmp_path, cache):
    folder, _ = packed(tmp_path)
    D.read_packed(folder)  # verified once, remembered
    p = folder/'train_1.png'; raw = bytearray(p.read_bytes()); raw[100] ^= 0xFF; p.write_bytes(bytes(raw))
    with pytest.raises(ValueError, match=r'Checksum mismatch for .*train_1\.png.*fresh copy'): D.read_packed(folder)
    p.unlink()
    with pytest.raises(FileNotFoundError, match=r'train_1\.png is missing'): D.read_packed(folder)

def test_same_size_rewrite_with_mtime_restored_is_rechecked(tmp_path, cache):
    folder, _ = packed(tmp_path)
    D.read_packed(folder)  # verified once, remembered
    p = folder/'train_1.npz'; st = p.stat(); raw = bytearray(p.read_bytes()); raw[-1] ^= 1
    p.write_bytes(bytes(raw)); os.utime(p, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert (p.stat().st_size, p.stat().st_mtime_ns) == (st.st_size, st.st_mtime_ns)
    with pytest.raises(ValueError, match=r'Checksum mismatch for .*train_1\.npz'): D.read_packed(folder)

def test_undecodable_shard_is_named_with_the_way_to_recheck(tmp_path):
    folder, _ = packed(tmp_path)
    (folder/'test.png').write_bytes(b'\x89PNG truncated')
    with pytest.raises(ValueError, match=r'test\.png/\.npz is corrupt.*backdoorpure verify'): D._decode_shard(folder, 'test')

def test_gtsrb_reads_the_packed_copy(tmp_path, cache):
    _, shards = packed(tmp_path, 'gtsrb32', classes=43)
    s = D.load_dataset('gtsrb', root=tmp_path)
    assert s.info.num_classes == 43 and not s.info.flip and len(s.train) == 60
    packed_order = np.concatenate([shards['train_0'][0], shards['train_1'][0]])   # by class, as the official folders are
    assert (s.train.x.permute(0, 2, 3, 1).numpy() == packed_order[D._gtsrb_order(60)]).all()   # loaded in one fixed shuffled order
    with pytest.raises(FileNotFoundError, match='gtsrb32'): D.load_dataset('gtsrb', root=tmp_path/'empty')

def test_cifar100_official_binary_fixture(tmp_path):
    rng = np.random.default_rng(1); d = tmp_path/'cifar-100-binary'; d.mkdir()
    want = {}
    for f, n in (('train.bin', 6), ('test.bin', 4)):
        coarse, fine = rng.integers(0, 20, n), rng.integers(0, 100, n)
        x = rng.integers(0, 256, (n, 3, 32, 32), dtype=np.uint8)
        (d/f).write_bytes(np.concatenate([coarse[:, None], fine[:, None], x.reshape(n, -1)], 1).astype(np.uint8).tobytes())
        want[f] = (x.transpose(0, 2, 3, 1), fine)
    s = D.load_dataset('cifar100', root=tmp_path)
    assert s.info.num_classes == 100
    assert (s.train.y.numpy() == want['train.bin'][1]).all() and (s.test.x.permute(0, 2, 3, 1).numpy() == want['test.bin'][0]).all()

def test_tiny_imagenet_official_layout_fixture(tmp_path, cache):
    d = tmp_path/'tiny-imagenet-200'; wnids = ['n01443537', 'n01629819']
    (d/'val'/'images').mkdir(parents=True); (d/'wnids.txt').write_text('\n'.join(wnids) + '\n')
    colours = {wnids[0]: (250, 0, 0), wnids[1]: (0, 0, 250)}
    for w in wnids:
        (d/'train'/w/'images').mkdir(parents=True)
        for i in range(3): Image.new('RGB', (64, 64), colours[w]).save(d/'train'/w/'images'/f'{w}_{i}.JPEG')
    lines = []
    for i, w in enumerate([wnids[1], wnids[0]]):
        Image.new('RGB', (64, 64), colours[w]).save(d/'val'/'images'/f'val_{i}.JPEG'); lines.append(f'val_{i}.JPEG\t{w}\t0\t0\t63\t63')
    (d/'val'/'val_annotations.txt').write_text('\n'.join(lines) + '\n')
    s = D.load_dataset('tiny-imagenet', root=tmp_path)
    assert s.train.x.shape == (6, 3, 64, 64) and s.train.y.tolist() == [0, 0, 0, 1, 1, 1] and s.test.y.tolist() == [1, 0]
    assert s.train.x[0, 0].float().mean() > 240 and s.train.x[3, 2].float().mean() > 240  # red class 0, blue class 1
    assert D.load_dataset('tiny-imagenet', root=tmp_path).test.y.tolist() == [1, 0]  # second load from the cache

def test_idx_header_is_checked(tmp_path):
    (tmp_path/'bad.gz').write_bytes(gzip.compress(b'\x00\x00\x08\x01\x00\x00\x00\x05ab'))
    with pytest.raises(ValueError, match='truncated'): D.read_idx(tmp_path/'bad.gz')
    (tmp_path/'worse').write_bytes(b'PK\x03\x04')
    with pytest.raises(ValueError, match='bad header'): D.read_idx(tmp_path/'worse')

@pytest.mark.parametrize('name', ['fashion-mnist', 'mnist'])
def test_real_grey_datasets_load_and_learn(name, tmp_path):
    try: s = D.load_dataset(name, root=tmp_path)
    except FileNotFoundError as e: pytest.skip(str(e))
    assert s.train.x.shape == (60000, 1, 28, 28) and s.test.x.shape == (10000, 1, 28, 28)
    assert torch.bincount(s.test.y).min() > 800
    from backdoorpure.core import seed_everything
    from backdoorpure.models import create_model
    from backdoorpure.train import train, train_config, accuracy
    seed_everything(0)
    m = create_model('preact-resnet18', 10, width=8, in_channels=1)
    train(m, s.train.subset(range(4000)), train_config('cpu'), epochs=2, device='cpu')
    assert accuracy(m, s.test.subset(range(2000))) > 0.6

def test_unknown_dataset_lists_known_ones():
    with pytest.raises(KeyError, match='Known datasets: cifar10, cifar100, fashion-mnist, gtsrb, mnist, synthetic, tiny-imagenet'):
        D.load_dataset('imagenet')

def test_batches_are_deterministic_per_seed_and_cover_every_image():
    s = D.load_dataset('synthetic').train
    run = lambda seed: [xb for xb, _ in s.batches(100, shuffle=True, augment=True, generator=make_generator(seed))]
    a, b, c = run(3), run(3), run(4)
    assert all(torch.equal(x, y) for x, y in zip(a, b)) and not torch.equal(a[0], c[0])
    ys = torch.cat([yb for _, yb in s.batches(100, shuffle=True, generator=make_generator(0))])
    assert sorted(ys.tolist()) == sorted(s.y.tolist()) and sum(len(x) for x in a) == len(s)

def test_crop_pads_with_zeros_and_keeps_content():
    x = torch.full((64, 3, 8, 8), 200, dtype=torch.uint8)
    out = D.random_crop(x, 4, make_generator(0))
    vals = set(out.unique().tolist())
    assert vals <= {0, 200} and (out == 200).any(dim=(1, 2, 3)).all()  # padding is zero; every crop keeps some image
    assert (out == 0).any()  # some offsets reach into the padding

def test_subsets_keep_original_indices_and_refuse_impossible_requests():
    s = D.load_dataset('synthetic').train
    sub = s.subset([5, 9, 11]).subset([2, 0])
    assert sub.index.tolist() == [11, 5]
    with pytest.raises(ValueError, match='fewer than'): D.class_balanced_indices(s.y, 10_000)
    with pytest.raises(ValueError, match='fraction'): D.holdout_split(s, 1.5)

@needs_cifar
def test_real_cifar10_layout_and_balanced_holdout():
    s = D.load_dataset('cifar10')
    assert s.train.x.dtype == torch.uint8 and s.train.x.shape == (50000, 3, 32, 32) and len(s.test) == 10000
    assert torch.bincount(s.test.y).tolist() == [1000] * 10
    m = s.train.x.permute(0, 2, 3, 1).reshape(-1, 3).double().mean(0)
    assert torch.allclose(m, torch.tensor([125.307, 122.950, 113.865], dtype=torch.double), atol=0.01)
    rest, held = D.holdout_split(s.train, 0.02, balanced=True, seed=0)
    assert torch.bincount(held.y).tolist() == [100] * 10 and len(rest) == 49000
    assert not set(held.index.tolist()) & set(rest.index.tolist())
