import numpy as np
import pytest
import torch

from mstkd.datasets import AVDigitsDataset
from mstkd.datasets.avdigits import DEFAULT_FILE
from mstkd.utils.errors import DataNotFoundError, UserInputError


def build(path, split, seed=0, **kwargs):
    return AVDigitsDataset(data_file=path, split=split, seed=seed, n_mels=64,
                           n_frames=64, **kwargs)


def test_splits_shapes_and_normalisation(tiny_avdigits):
    sets = {s: build(tiny_avdigits, s) for s in ('train', 'val', 'test')}
    assert [len(sets[s]) for s in ('train', 'val', 'test')] == [120, 40, 40]
    ids = np.concatenate([d.indices for d in sets.values()])
    np.testing.assert_array_equal(np.sort(ids), np.arange(200))
    item = sets['train'][0]
    assert item['inputs']['image'].shape == (1, 28, 28)
    assert item['inputs']['audio'].shape == (1, 64, 64)
    for modality in ('image', 'audio'):
        data = sets['train'].data[modality].flatten(1)
        assert data.dtype == torch.float32
        # min-max per sample (AV-MNIST protocol)
        torch.testing.assert_close(data.min(1).values, torch.zeros(120))
        torch.testing.assert_close(data.max(1).values, torch.ones(120))
    raw = np.load(tiny_avdigits)['labels']
    np.testing.assert_array_equal(sets['val'].labels.numpy(),
                                  raw[sets['val'].indices])
    assert item['data_samples']['sample_idx'] == sets['train'].indices[0]


def test_pairing_is_label_consistent_and_pool_disjoint(tiny_avdigits):
    raw = np.load(tiny_avdigits)
    for pool, split in enumerate(('train', 'val', 'test')):
        ds = build(tiny_avdigits, split, seed=1)
        clips = ds.clip_ids
        np.testing.assert_array_equal(raw['clip_labels'][clips],
                                      ds.labels.numpy())
        assert (raw['clip_pool'][clips] == pool).all()


def test_seed_selects_split_and_pairing(tiny_avdigits):
    a, b = build(tiny_avdigits, 'test', 0), build(tiny_avdigits, 'test', 0)
    c = build(tiny_avdigits, 'test', 1)
    np.testing.assert_array_equal(a.indices, b.indices)
    torch.testing.assert_close(a.data['audio'], b.data['audio'])
    assert not np.array_equal(np.sort(a.indices), np.sort(c.indices))


def test_modalities_subset_and_errors(tiny_avdigits, tmp_path):
    ds = build(tiny_avdigits, 'train', modalities=('image', ))
    assert set(ds[0]['inputs']) == {'image'} and 'audio' not in ds.data
    with pytest.raises(ValueError, match="no modality \\['depth'\\]"):
        build(tiny_avdigits, 'train', modalities=('depth', ))
    missing = str(tmp_path / 'nope.npz')
    with pytest.raises(DataNotFoundError, match='make_avdigits.py'):
        build(missing, 'train')
    np.savez(tmp_path / 'bad.npz', images=np.zeros((2, 28, 28), np.uint8))
    with pytest.raises(UserInputError, match="lacks the keys"):
        build(str(tmp_path / 'bad.npz'), 'train')


def _rewrite(src, dst, **changes):
    with np.load(src) as f:
        arrays = {k: f[k] for k in f.files}
    arrays.update(changes)
    np.savez(dst, **arrays)
    return str(dst)


def test_corrupt_files_name_the_file(tiny_avdigits, tmp_path):
    data = open(tiny_avdigits, 'rb').read()
    truncated = tmp_path / 'truncated.npz'
    truncated.write_bytes(data[:len(data) // 2])
    noise = tmp_path / 'noise.npz'
    noise.write_bytes(np.random.RandomState(0).bytes(4096))
    for path in (truncated, noise):
        with pytest.raises(UserInputError,
                           match=f'{path} is not a readable AV-Digits'):
            build(str(path), 'train')
    with np.load(tiny_avdigits) as f:
        labels, images = f['labels'].copy(), f['images'].astype(np.float32)
    labels[7] = 12
    bad = _rewrite(tiny_avdigits, tmp_path / 'labels.npz', labels=labels)
    with pytest.raises(UserInputError,
                       match=r'labels span \[0, 12\], expected 0 .. 9 '
                       r'\(10 classes\); the first bad one is at index 7'):
        build(bad, 'train')
    images[3, 5, 5] = np.nan
    bad = _rewrite(tiny_avdigits, tmp_path / 'nan.npz', images=images)
    with pytest.raises(UserInputError) as err:
        build(bad, 'train')
    assert str(err.value) == (f'{bad}: images[3] contains NaN/Inf; clean or '
                              'drop that sample.')


def test_embedded_data_builds():
    ds = AVDigitsDataset(split='test', seed=0)
    assert ds.data_file == DEFAULT_FILE
    assert len(ds) == 1000
    assert ds.data['image'].shape == (1000, 1, 28, 28)
    assert ds.data['audio'].shape == (1000, 1, 112, 112)
    assert ds.class_counts() == np.bincount(ds.labels.numpy()).tolist()
