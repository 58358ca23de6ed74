"""RAVDESSDataset on tiny files in the release layout."""
import os.path as osp
import pickle
import shutil

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from mstkd.datasets import MemmapSource, RAVDESSDataset, SplitView
from mstkd.datasets import ravdess as ravdess_module
from mstkd.datasets.ravdess import video_channel_minmax
from mstkd.datasets.splits import make_permutations, write_permutation_csv
from mstkd.utils.errors import DataNotFoundError, UserInputError
from tests.release_data import make_ravdess

SPLITS = ('train', 'val', 'test')
SIZE = 12


@pytest.fixture(scope='module')
def root(tmp_path_factory):
    return make_ravdess(str(tmp_path_factory.mktemp('rav')), n=80, size=SIZE)


def load(root, name):
    return np.load(osp.join(root, f'{name}_data.npy'))


def test_splits_shapes_and_normalisation(root):
    sets = {s: RAVDESSDataset(root, split=s) for s in SPLITS}
    assert [len(sets[s]) for s in SPLITS] == [48, 16, 16]
    ids = np.concatenate([sets[s].indices for s in SPLITS])
    np.testing.assert_array_equal(np.sort(ids), np.arange(80))
    video, audio, labels = load(root,
                                'video'), load(root,
                                               'audio'), load(root, 'label')
    # reference: min-max per channel over the whole set, in float64
    lo = video.min(axis=(0, 1, 3, 4), keepdims=True).astype(np.float64)
    hi = video.max(axis=(0, 1, 3, 4), keepdims=True).astype(np.float64)
    assert len(np.unique(hi)) > 1  # channels really differ
    ref_video = ((video - lo) / (hi - lo)).astype(np.float32)
    # reference: audio min-max per sample (float32 arithmetic, as numpy on
    # the float32 file)
    a_lo = audio.min(axis=(1, 2), keepdims=True)
    a_hi = audio.max(axis=(1, 2), keepdims=True)
    ref_audio = (audio - a_lo) / (a_hi - a_lo)
    for s in SPLITS:
        ds = sets[s]
        np.testing.assert_array_equal(ds.labels.numpy(), labels[ds.indices])
        assert min(ds.class_counts()) > 0
        np.testing.assert_array_equal(ds.video_min, lo.reshape(3))
        for i in (0, len(ds) - 1):
            item = ds[i]
            v, a = item['inputs']['video'], item['inputs']['audio']
            assert v.shape == (3, 15, SIZE, SIZE) and v.dtype == torch.float32
            assert a.shape == (15, 156) and a.dtype == torch.float32
            g = ds.indices[i]
            # exact: [15, 3, H, W] -> [3, 15, H, W]
            assert torch.equal(
                v, torch.from_numpy(ref_video[g].transpose(1, 0, 2, 3)))
            np.testing.assert_allclose(a.numpy(),
                                       ref_audio[g],
                                       rtol=0,
                                       atol=1e-7)
            assert item['data_samples']['gt_label'] == int(labels[g])


def test_video_is_lazy_memmap_and_pickles_small(root):
    ds = RAVDESSDataset(root, split='val', seed=1)
    view = ds.data['video']
    assert isinstance(view, SplitView) and isinstance(view.source,
                                                      MemmapSource)
    assert isinstance(view.source.array, np.memmap)
    assert isinstance(ds.data['audio'], torch.Tensor)  # 13 MB: in memory
    blob = pickle.dumps(ds)
    assert len(blob) < 200_000  # the video array is not inside
    clone = pickle.loads(blob)
    assert torch.equal(clone[2]['inputs']['video'], ds[2]['inputs']['video'])
    batch = next(iter(DataLoader(ds, batch_size=4)))
    assert batch['inputs']['video'].shape == (4, 3, 15, SIZE, SIZE)
    assert batch['inputs']['audio'].shape == (4, 15, 156)
    assert batch['data_samples']['gt_label'].dtype == torch.int64


def test_channel_stats_chunking_and_cache(root, monkeypatch):
    path = osp.join(root, 'video_data.npy')
    video = np.load(path)
    monkeypatch.setattr(ravdess_module, '_STATS_CACHE', {})
    lo3, hi3 = video_channel_minmax(path, chunk_rows=3)
    np.testing.assert_array_equal(lo3, video.min(axis=(0, 1, 3, 4)))
    np.testing.assert_array_equal(hi3, video.max(axis=(0, 1, 3, 4)))
    assert lo3.dtype == np.float32
    assert len(ravdess_module._STATS_CACHE) == 1
    # the cached result is returned without reading the file again
    monkeypatch.setattr(ravdess_module, 'iter_npy_chunks', None)
    assert video_channel_minmax(path)[1] is hi3


def test_seed_and_indices_file(root, tmp_path):
    csv = str(tmp_path / 'RAVDESS_indices.csv')
    perms = make_permutations(80, 20, seed=3)
    write_permutation_csv(csv, perms)
    ds = RAVDESSDataset(root,
                        split='test',
                        seed=4,
                        indices_file=csv,
                        modalities=('audio', ))
    np.testing.assert_array_equal(ds.indices, perms[4][64:])
    assert set(ds[0]['inputs']) == {'audio'} and 'video' not in ds.data
    a = RAVDESSDataset(root, split='test', seed=4, modalities=('audio', ))
    b = RAVDESSDataset(root, split='test', seed=4, modalities=('audio', ))
    np.testing.assert_array_equal(a.indices, b.indices)
    assert not np.array_equal(a.indices, ds.indices)
    with open(csv, 'w') as f:
        f.write('group_0\n1\n2\n')
    with pytest.raises(UserInputError, match='no column "group_4"'):
        RAVDESSDataset(root, seed=4, indices_file=csv)


def test_errors_name_the_path(root, tmp_path):
    with pytest.raises(DataNotFoundError, match='video_data.npy'):
        RAVDESSDataset(str(tmp_path / 'nowhere'))
    bad = str(tmp_path / 'RAVDESS_preprocessed_npy')
    shutil.copytree(root, bad)
    video_path = osp.join(bad, 'video_data.npy')
    labels = np.load(osp.join(bad, 'label_data.npy'))

    np.save(video_path, np.zeros((80, 15, 1, 4, 4), np.uint8))
    with pytest.raises(UserInputError, match=r'\[80, 15, 1, 4, 4\]') as err:
        RAVDESSDataset(bad)
    assert video_path in str(err.value)
    assert 'label_data.npy' in str(err.value)  # the layout is printed

    np.save(video_path, np.zeros((80, 15, 3, 4), np.uint8))
    with pytest.raises(UserInputError, match='expected \\[N, 15, 3, H, W\\]'):
        RAVDESSDataset(bad)

    np.save(video_path, np.zeros((79, 15, 3, 4, 4), np.uint8))
    with pytest.raises(UserInputError, match='80 labels') as err:
        RAVDESSDataset(bad)
    assert video_path in str(err.value)

    np.save(osp.join(bad, 'label_data.npy'), labels + 1)  # codes 1..8
    with pytest.raises(UserInputError, match=r'0 \.\. 7'):
        RAVDESSDataset(bad, modalities=('audio', ))

    np.save(osp.join(bad, 'label_data.npy'), labels)
    np.save(osp.join(bad, 'audio_data.npy'), np.zeros((80, 2340), np.float32))
    with pytest.raises(UserInputError, match='audio_data.npy'):
        RAVDESSDataset(bad, modalities=('audio', ))

    with open(osp.join(bad, 'audio_data.npy'), 'wb') as f:
        f.write(b'not an npy file')
    with pytest.raises(UserInputError, match='not a readable .npy') as err:
        RAVDESSDataset(bad, modalities=('audio', ))
    assert osp.join(bad, 'audio_data.npy') in str(err.value)

    shutil.os.remove(video_path)
    with pytest.raises(DataNotFoundError) as err:
        RAVDESSDataset(bad, modalities=('video', ))
    assert video_path in str(err.value)


def test_nan_inputs_name_file_modality_and_clip(root, tmp_path):
    data_root = str(tmp_path / 'RAVDESS_preprocessed_npy')
    shutil.copytree(root, data_root)
    path = osp.join(data_root, 'audio_data.npy')
    audio = load(data_root, 'audio')
    audio[17, 3, 40] = np.nan
    audio[40, 0, 0] = -np.inf
    np.save(path, audio)
    with pytest.raises(UserInputError) as err:
        RAVDESSDataset(data_root, split='test')
    assert str(err.value) == (f'{path}: audio[17] contains NaN/Inf; clean '
                              'or drop that sample.')
    assert len(RAVDESSDataset(data_root, modalities=('video', )))
    # a float video file (accepted like the release's uint8) is checked
    # while its channel range is computed
    path = osp.join(data_root, 'video_data.npy')
    video = load(data_root, 'video').astype(np.float32)
    video[33, 2, 1, 4, 5] = np.inf
    np.save(path, video)
    with pytest.raises(UserInputError) as err:
        RAVDESSDataset(data_root, modalities=('video', ), chunk_rows=8)
    assert str(err.value) == (f'{path}: video[33] contains NaN/Inf; clean '
                              'or drop that sample.')


def test_base_config(root, tmp_path):
    from mmengine.config import Config

    from mstkd.registry import DATASETS
    from tests.helpers import REPO, LOADERS
    from tests.release_data import load_release_config
    config = osp.join(REPO, 'configs', '_base_', 'datasets', 'ravdess.py')
    raw = Config.fromfile(config)
    assert raw.train_dataloader.batch_size == 32
    assert raw.data_root == 'data/RAVDESS_preprocessed_npy'
    assert raw.indices_file == 'data/metadata/RAVDESS_indices.csv'
    cfg = load_release_config(config, root, str(tmp_path), seed=1)
    for loader, split in zip(LOADERS, SPLITS):
        assert cfg[loader].num_workers == 0
        ds = DATASETS.build(cfg[loader].dataset)
        assert ds.seed == 1 and ds.split == split
        assert ds[0]['inputs']['video'].shape == (3, 15, SIZE, SIZE)
