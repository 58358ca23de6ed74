"""AVMNISTDataset on tiny files in the MultiBench release layout."""
import os
import os.path as osp
import pickle
import shutil

import numpy as np
import pytest
import torch

from mstkd.datasets import AVMNISTDataset, SplitView
from mstkd.datasets.splits import (get_permutation, make_permutations,
                                   split_indices, write_permutation_csv)
from mstkd.registry import DATASETS
from mstkd.utils.errors import DataNotFoundError, UserInputError
from tests.release_data import make_av_mnist

SPLITS = ('train', 'val', 'test')


@pytest.fixture(scope='module')
def root(tmp_path_factory):
    return make_av_mnist(str(tmp_path_factory.mktemp('avm')))


def raw_arrays(root):
    """The release files concatenated (train first), as the reference."""
    load = lambda *p: np.load(osp.join(root, *p))  # noqa: E731
    image = np.concatenate(
        [load('image', 'train_data.npy'),
         load('image', 'test_data.npy')])
    audio = np.concatenate(
        [load('audio', 'train_data.npy'),
         load('audio', 'test_data.npy')])
    labels = np.concatenate(
        [load('train_labels.npy'),
         load('test_labels.npy')])
    return image, audio, labels


def minmax64(x):
    """Per-sample min-max in float64 (the reference computation)."""
    flat = x.reshape(len(x), -1).astype(np.float64)
    lo, hi = flat.min(1, keepdims=True), flat.max(1, keepdims=True)
    return (flat - lo) / (hi - lo)


def test_splits_shapes_and_normalisation(root):
    sets = {s: AVMNISTDataset(root, split=s, chunk_rows=7) for s in SPLITS}
    assert [len(sets[s]) for s in SPLITS] == [120, 40, 40]
    ids = np.concatenate([sets[s].indices for s in SPLITS])
    np.testing.assert_array_equal(np.sort(ids), np.arange(200))
    image, audio, labels = raw_arrays(root)
    for s in SPLITS:
        ds = sets[s]
        np.testing.assert_array_equal(
            ds.indices, split_indices(get_permutation(200, 0), s))
        np.testing.assert_array_equal(ds.labels.numpy(), labels[ds.indices])
        assert ds.labels.dtype == torch.int64
        # every class in each split (tiny data built for seed 0)
        assert min(ds.class_counts()) > 0
        assert ds.data['image'].shape == (len(ds), 1, 28, 28)
        assert ds.data['audio'].shape == (len(ds), 1, 112, 112)
        for m, raw in (('image', image), ('audio', audio)):
            got = ds.data[m]
            assert got.dtype == torch.float32
            np.testing.assert_allclose(got.reshape(len(ds), -1).numpy(),
                                       minmax64(raw[ds.indices]),
                                       rtol=0,
                                       atol=1e-6)
    item = sets['val'][3]
    assert item['inputs']['image'].shape == (1, 28, 28)
    assert item['inputs']['audio'].shape == (1, 112, 112)
    assert item['data_samples']['gt_label'].dtype == torch.int64
    assert item['data_samples']['sample_idx'] == sets['val'].indices[3]
    # the chunk size does not change the numbers
    big = AVMNISTDataset(root, split='val', chunk_rows=10000)
    assert torch.equal(big.data['audio'], sets['val'].data['audio'])


def test_lazy_matches_eager_and_pickles_small(root):
    eager = AVMNISTDataset(root, split='test', seed=2)
    lazy = AVMNISTDataset(root, split='test', seed=2, lazy=True)
    assert isinstance(lazy.data['audio'], SplitView)
    for i in range(len(lazy)):
        for m in ('image', 'audio'):
            assert torch.equal(lazy[i]['inputs'][m], eager[i]['inputs'][m])
    blob = pickle.dumps(lazy)
    assert len(blob) < 50_000  # no array inside: memory maps reopen
    clone = pickle.loads(blob)
    assert torch.equal(clone[5]['inputs']['audio'],
                       eager[5]['inputs']['audio'])


def test_seed_determinism_and_registry(root):
    a = AVMNISTDataset(root, split='train', seed=3)
    b = DATASETS.build(
        dict(type='AVMNISTDataset', data_root=root, split='train', seed=3))
    c = AVMNISTDataset(root, split='train', seed=4)
    np.testing.assert_array_equal(a.indices, b.indices)
    assert torch.equal(a.data['image'], b.data['image'])
    assert not np.array_equal(np.sort(a.indices), np.sort(c.indices))
    with pytest.raises(UserInputError, match='group_0 .. group_19'):
        AVMNISTDataset(root, split='train', seed=20)


def test_indices_csv_used_and_bad_csv_rejected(root, tmp_path):
    csv = str(tmp_path / 'AV-MNIST_indices.csv')
    perms = make_permutations(200, 20, seed=7)  # not the reference numbers
    write_permutation_csv(csv, perms)
    ds = AVMNISTDataset(root, split='val', seed=1, indices_file=csv)
    np.testing.assert_array_equal(ds.indices, perms[1][120:160])
    # absent file: the reference permutation is regenerated
    ds = AVMNISTDataset(root,
                        split='val',
                        seed=1,
                        indices_file=str(tmp_path / 'none.csv'))
    np.testing.assert_array_equal(ds.indices, get_permutation(200, 1)[120:160])
    write_permutation_csv(csv, make_permutations(199, 20))
    with pytest.raises(UserInputError, match='not a permutation of range'):
        AVMNISTDataset(root, split='val', indices_file=csv)


def test_modality_subset(root):
    ds = AVMNISTDataset(root, split='val', modalities=('audio', ))
    assert set(ds.data) == {'audio'} and set(ds[0]['inputs']) == {'audio'}


def copy_root(root, tmp_path):
    dst = str(tmp_path / 'avmnist')
    shutil.copytree(root, dst)
    return dst


def test_errors_name_the_path(root, tmp_path):
    with pytest.raises(DataNotFoundError, match='Expected layout') as err:
        AVMNISTDataset(str(tmp_path / 'nowhere'))
    assert str(tmp_path / 'nowhere') in str(err.value)

    bad = copy_root(root, tmp_path)
    os.remove(osp.join(bad, 'audio', 'test_data.npy'))
    with pytest.raises(DataNotFoundError) as err:
        AVMNISTDataset(bad)
    assert osp.join(bad, 'audio', 'test_data.npy') in str(err.value)
    assert 'train_labels.npy' in str(err.value)  # the layout is printed
    # the image modality alone does not need the audio files
    assert len(AVMNISTDataset(bad, modalities=('image', ))) == 120

    np.save(osp.join(bad, 'audio', 'test_data.npy'),
            np.zeros((50, 100, 100), np.float32))
    with pytest.raises(UserInputError, match=r'\[50, 100, 100\]') as err:
        AVMNISTDataset(bad)
    assert osp.join(bad, 'audio', 'test_data.npy') in str(err.value)

    np.save(osp.join(bad, 'audio', 'test_data.npy'),
            np.zeros((49, 112, 112), np.float32))
    with pytest.raises(UserInputError, match='49 audio samples but 50'):
        AVMNISTDataset(bad)

    np.save(osp.join(bad, 'audio', 'test_data.npy'),
            np.zeros((50, 112, 112), np.float32))
    labels = np.load(osp.join(bad, 'test_labels.npy'))
    labels[0] = 10
    np.save(osp.join(bad, 'test_labels.npy'), labels)
    with pytest.raises(UserInputError, match=r'0 \.\. 9') as err:
        AVMNISTDataset(bad)
    assert osp.join(bad, 'test_labels.npy') in str(err.value)

    np.save(osp.join(bad, 'test_labels.npy'), np.array(['a'] * 50))
    with pytest.raises(UserInputError, match='expected integers'):
        AVMNISTDataset(bad)


def test_nan_inputs_name_file_modality_and_row(root, tmp_path, capsys):
    """A NaN in a release file fails with the file, the modality and the
    row of the file, eagerly at construction and lazily when served."""
    bad = copy_root(root, tmp_path)
    train = AVMNISTDataset(bad, split='train')
    n_train = len(np.load(osp.join(bad, 'train_labels.npy')))
    # a row of train/test_data.npy that the train split reads, not first
    pos = int(np.flatnonzero(train.indices < n_train)[3])
    row = int(train.indices[pos])
    path = osp.join(bad, 'audio', 'train_data.npy')
    audio = np.load(path)
    audio[row, 50, 60] = np.nan
    audio[row + 1:, 0, 0] = np.inf  # a later row: the first one is named
    np.save(path, audio)
    message = (f'{path}: audio[{row}] contains NaN/Inf; clean or drop that '
               'sample.')
    with pytest.raises(UserInputError) as err:
        AVMNISTDataset(bad, split='train', chunk_rows=7)
    assert str(err.value) == message
    # the image modality alone is clean
    assert len(AVMNISTDataset(bad, split='train', modalities=('image', )))
    lazy = AVMNISTDataset(bad, split='train', lazy=True)
    clean = int(np.flatnonzero(train.indices < row)[0])
    assert lazy[clean]['inputs']['audio'].isfinite().all()
    with pytest.raises(UserInputError) as err:
        lazy[pos]
    assert str(err.value) == message
    # served by a DataLoader worker, a tool still prints that one line
    # (with the worker named), not the worker's traceback
    from torch.utils.data import DataLoader, Subset

    from mstkd.utils.cli import run_tool

    def main():
        for _ in DataLoader(Subset(lazy, [clean, pos]), num_workers=1,
                            collate_fn=list):
            pass

    capsys.readouterr()
    with pytest.raises(SystemExit) as stop:
        run_tool(main)
    assert stop.value.code == 2
    assert capsys.readouterr().err == (
        f'error: {message} (in DataLoader worker process 0)\n')


def test_check_tool(root, tmp_path, capsys):
    import importlib.util
    from tests.helpers import REPO, run_tool
    spec = importlib.util.spec_from_file_location(
        'check_av_mnist',
        osp.join(REPO, 'tools', 'dataset_converters', 'check_av_mnist.py'))
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)

    assert tool.main([root, '--counts', '150', '50']) == 0
    out = capsys.readouterr().out
    assert 'OK' in out and '[150, 112, 112]' in out
    # the real counts are expected by default
    assert tool.main([root]) == 1
    out = capsys.readouterr().out
    assert '150 train labels, expected 60000' in out
    assert '50 test labels, expected 10000' in out

    bad = copy_root(root, tmp_path)
    np.save(osp.join(bad, 'image', 'train_data.npy'),
            np.zeros((150, 700), np.float32))
    os.remove(osp.join(bad, 'audio', 'test_data.npy'))
    assert tool.main([bad, '--counts', '150', '50']) == 1
    out = capsys.readouterr().out
    assert '2 problem(s)' in out
    assert osp.join(bad, 'image', 'train_data.npy') in out
    assert osp.join(bad, 'audio', 'test_data.npy') in out

    # the command line, as a user runs it
    res = run_tool([
        'tools/dataset_converters/check_av_mnist.py',
        str(tmp_path / 'nowhere')
    ])
    assert res.returncode == 2 and 'is not a folder' in res.stderr


def test_base_config(root, tmp_path):
    from tests.helpers import REPO, LOADERS
    from tests.release_data import load_release_config
    from mmengine.config import Config
    config = osp.join(REPO, 'configs', '_base_', 'datasets', 'av_mnist.py')
    assert Config.fromfile(config).train_dataloader.batch_size == 512
    cfg = load_release_config(config,
                              root,
                              str(tmp_path),
                              seed=2,
                              batch_size=16)
    assert cfg.dataset_type == 'AVMNISTDataset'
    assert cfg.data_root == 'data/avmnist'  # the one variable of the file
    assert cfg.val_evaluator == dict(type='ClsMetric')
    for loader, split in zip(LOADERS, SPLITS):
        ds_cfg = cfg[loader].dataset
        assert ds_cfg.seed == 2 and ds_cfg.split == split
        assert cfg[loader].batch_size == 16
        ds = DATASETS.build(ds_cfg)
        np.testing.assert_array_equal(
            ds.indices, split_indices(get_permutation(200, 2), split))
