"""VGGSound50kDataset on tiny files in the release layout."""
import os
import os.path as osp
import pickle
import shutil

import numpy as np
import pytest
import torch

from mstkd.datasets import NpyFilesSource, SplitView, VGGSound50kDataset
from mstkd.datasets.splits import make_permutations, write_permutation_csv
from mstkd.utils.errors import DataNotFoundError, UserInputError
from tests.release_data import make_vggsound

SPLITS = ('train', 'val', 'test')
N = 30


@pytest.fixture(scope='module')
def root(tmp_path_factory):
    return make_vggsound(str(tmp_path_factory.mktemp('vgg')), n=N)


def metadata(root):
    with open(osp.join(root, 'VGGS50k_metadata.txt')) as f:
        rows = [line.strip().split('&') for line in f if line.strip()]
    return [r[0] for r in rows], np.array([int(r[1]) for r in rows])


def feature(root, kind, name):
    sub = dict(v='visual_features', a='audio_features')[kind]
    return np.load(
        osp.join(root, 'VGGS50K_features_normed', sub,
                 f'{name}_{kind}Feature.npy'))


def test_splits_shapes_and_values(root):
    names, labels = metadata(root)
    sets = {s: VGGSound50kDataset(root, split=s) for s in SPLITS}
    assert [len(sets[s]) for s in SPLITS] == [18, 6, 6]
    ids = np.concatenate([sets[s].indices for s in SPLITS])
    np.testing.assert_array_equal(np.sort(ids), np.arange(N))
    for s in SPLITS:
        ds = sets[s]
        np.testing.assert_array_equal(ds.labels.numpy(), labels[ds.indices])
        assert len(ds.class_counts()) == 141
        assert set(ds.labels.tolist()) == set(labels.tolist())  # 6 classes
    ds = sets['val']
    for i in range(len(ds)):
        item = ds[i]
        name = names[ds.indices[i]]
        v, a = item['inputs']['visual'], item['inputs']['audio']
        assert v.shape == (512, 10, 7, 7) and v.dtype == torch.float32
        assert a.shape == (128, 10) and a.dtype == torch.float32
        # no normalisation, only the conv layouts
        assert torch.equal(
            v,
            torch.from_numpy(feature(root, 'v', name).transpose(3, 0, 1, 2)))
        assert torch.equal(a, torch.from_numpy(feature(root, 'a', name).T))
        assert set(item['data_samples']) == {'gt_label', 'sample_idx'}


def test_seg_labels_optional(root):
    ds = VGGSound50kDataset(root, split='test', with_seg_labels=True)
    names, _ = metadata(root)
    for i in range(len(ds)):
        seg = ds[i]['data_samples']['seg_label']
        raw = np.load(
            osp.join(root, 'seg_labels', f'{names[ds.indices[i]]}_sLabel.npy'))
        assert seg.shape == (10, ) and seg.dtype == torch.float32
        np.testing.assert_array_equal(seg.numpy(), raw.reshape(10))


def test_per_item_loading(root, tmp_path):
    data_root = str(tmp_path / 'VGGS50K')
    shutil.copytree(root, data_root)
    ds = VGGSound50kDataset(data_root, split='train', modalities=('audio', ))
    assert isinstance(ds.data['audio'], SplitView)
    assert isinstance(ds.data['audio'].source, NpyFilesSource)
    assert len(pickle.dumps(ds)) < 100_000
    # nothing was read at construction: a file rewritten afterwards is
    # what the item serves
    name = ds.names[ds.indices[0]]
    path = osp.join(data_root, 'VGGS50K_features_normed', 'audio_features',
                    f'{name}_aFeature.npy')
    np.save(path, np.full((10, 128), 0.25, np.float32))
    assert torch.equal(ds[0]['inputs']['audio'], torch.full((128, 10), 0.25))
    # a wrong shape or a vanished file fails when the item is loaded
    np.save(path, np.zeros((10, 64), np.float32))
    with pytest.raises(UserInputError, match=r'\[10, 64\]') as err:
        ds[0]
    assert path in str(err.value)
    os.remove(path)
    with pytest.raises(DataNotFoundError) as err:
        ds[0]
    assert path in str(err.value)
    # ... or at construction, for the split's files
    with pytest.raises(DataNotFoundError, match='1 audio file') as err:
        VGGSound50kDataset(data_root, split='train', modalities=('audio', ))
    assert path in str(err.value)
    assert 'VGGS50k_metadata.txt' in str(err.value)  # the layout


def test_nan_features_name_file_modality_and_position(root, tmp_path):
    """Features are read per item (never all at construction): a clip file
    with NaN fails when served, naming it and the first bad position."""
    data_root = str(tmp_path / 'VGGS50K')
    shutil.copytree(root, data_root)
    ds = VGGSound50kDataset(data_root, split='train')
    name = ds.names[ds.indices[1]]
    path = osp.join(data_root, 'VGGS50K_features_normed', 'audio_features',
                    f'{name}_aFeature.npy')
    audio = feature(data_root, 'a', name)
    audio[3, 17] = np.nan
    audio[5, 2] = np.inf
    np.save(path, audio)
    assert ds[0]['inputs']['audio'].isfinite().all()
    with pytest.raises(UserInputError) as err:
        ds[1]
    assert str(err.value) == (f'{path}: audio[3, 17] contains NaN/Inf; clean'
                              ' or drop that sample.')
    path = osp.join(data_root, 'VGGS50K_features_normed', 'visual_features',
                    f'{name}_vFeature.npy')
    visual = feature(data_root, 'v', name)
    visual[9, 6, 0, 511] = -np.inf
    np.save(path, visual)
    with pytest.raises(UserInputError) as err:
        VGGSound50kDataset(data_root, split='train',
                           modalities=('visual', ))[1]
    assert str(err.value) == (f'{path}: visual[9, 6, 0, 511] contains '
                              'NaN/Inf; clean or drop that sample.')


def test_indices_file(root, tmp_path):
    csv = str(tmp_path / 'VGGSound-50k_indices.csv')
    perms = make_permutations(N, 20, seed=5)
    write_permutation_csv(csv, perms)
    ds = VGGSound50kDataset(root, split='train', seed=2, indices_file=csv)
    np.testing.assert_array_equal(ds.indices, perms[2][:18])
    a = VGGSound50kDataset(root, split='train', seed=2)
    assert not np.array_equal(a.indices, ds.indices)


@pytest.mark.parametrize('line,problem', [
    ('clip_without_class', 'bad metadata line'),
    ('clip&abc', 'bad metadata line'),
    ('clip&141', 'class_id in 0..140'),
    ('&3', 'bad metadata line'),
])
def test_bad_metadata_line(root, tmp_path, line, problem):
    data_root = str(tmp_path / 'VGGS50K')
    os.makedirs(data_root)
    names, labels = metadata(root)
    path = osp.join(data_root, 'VGGS50k_metadata.txt')
    with open(path, 'w') as f:
        f.write(f'{names[0]}&{labels[0]}\n{line}\n')
    with pytest.raises(UserInputError, match=problem) as err:
        VGGSound50kDataset(data_root)
    assert f'{path}:2' in str(err.value)


def test_missing_folder_and_metadata(tmp_path):
    with pytest.raises(DataNotFoundError, match='VGGS50K_features_normed'):
        VGGSound50kDataset(str(tmp_path / 'nowhere'))
    os.makedirs(tmp_path / 'VGGS50K')
    with pytest.raises(DataNotFoundError) as err:
        VGGSound50kDataset(str(tmp_path / 'VGGS50K'))
    assert str(tmp_path / 'VGGS50K' / 'VGGS50k_metadata.txt') in str(err.value)


def test_base_config(root, tmp_path):
    from mmengine.config import Config

    from mstkd.registry import DATASETS
    from tests.helpers import REPO, LOADERS
    from tests.release_data import load_release_config
    config = osp.join(REPO, 'configs', '_base_', 'datasets', 'vggsound50k.py')
    raw = Config.fromfile(config)
    assert raw.train_dataloader.batch_size == 512
    assert raw.data_root == 'data/VGGS50K'
    cfg = load_release_config(config,
                              root,
                              str(tmp_path),
                              seed=3,
                              batch_size=4)
    for loader, split in zip(LOADERS, SPLITS):
        assert cfg[loader].batch_size == 4
        ds = DATASETS.build(cfg[loader].dataset)
        assert ds.seed == 3 and ds.split == split and not ds.with_seg_labels
