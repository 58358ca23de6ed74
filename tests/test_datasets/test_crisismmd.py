"""CrisisMMDDataset on tiny files in the release layout."""
import argparse
import os
import os.path as osp

import numpy as np
import pytest
import torch

from mstkd.datasets import CrisisMMDDataset
from mstkd.datasets.splits import make_permutations, write_permutation_csv
from mstkd.utils.errors import DataNotFoundError, UserInputError
from tests.release_data import make_crisismmd

SPLITS = ('train', 'val', 'test')


@pytest.fixture(scope='module')
def root(tmp_path_factory):
    return make_crisismmd(str(tmp_path_factory.mktemp('cmmd')), n=80)


def raw(root):
    """The release file as saved (numpy arrays), read weights-only."""
    from mstkd.datasets.crisismmd import numpy_arrays_allowed
    with numpy_arrays_allowed():
        return torch.load(osp.join(root, 'CMMD_data.pth'), weights_only=True)


def test_numpy_release_file(root):
    image, text, labels = raw(root)
    assert isinstance(image, np.ndarray)  # what the release's script saves
    sets = {s: CrisisMMDDataset(root, split=s) for s in SPLITS}
    assert [len(sets[s]) for s in SPLITS] == [48, 16, 16]
    ids = np.concatenate([sets[s].indices for s in SPLITS])
    np.testing.assert_array_equal(np.sort(ids), np.arange(80))
    for s in SPLITS:
        ds = sets[s]
        assert min(ds.class_counts()) > 0
        # no normalisation: the features as stored
        assert torch.equal(ds.data['image'],
                           torch.from_numpy(image[ds.indices]))
        assert torch.equal(ds.data['text'], torch.from_numpy(text[ds.indices]))
        np.testing.assert_array_equal(ds.labels.numpy(), labels[ds.indices])
    item = sets['test'][1]
    assert item['inputs']['image'].shape == (2048, )
    assert item['inputs']['text'].shape == (768, )
    assert item['inputs']['image'].dtype == torch.float32
    assert item['data_samples']['gt_label'].dtype == torch.int64


def test_tensor_file_and_other_dtypes(tmp_path):
    a = make_crisismmd(str(tmp_path / 'a'), n=40, seed=1)
    b = make_crisismmd(str(tmp_path / 'b'), n=40, seed=1, as_tensors=True)
    da, db = (CrisisMMDDataset(r, split='val', seed=3) for r in (a, b))
    assert torch.equal(da.data['image'], db.data['image'])
    assert torch.equal(da.labels, db.labels)
    # float64 features and int32 labels (numpy on Windows) load too
    image, text, labels = raw(a)
    path = osp.join(str(tmp_path / 'c'), 'CMMD_data.pth')
    os.makedirs(osp.dirname(path))
    torch.save((image.astype(np.float64), text, labels.astype(np.int32)), path)
    dc = CrisisMMDDataset(osp.dirname(path),
                          split='val',
                          seed=3,
                          modalities=('image', ))
    assert dc.data['image'].dtype == torch.float32
    assert torch.equal(dc.data['image'], da.data['image'])
    assert torch.equal(dc.labels, da.labels) and set(dc.data) == {'image'}


def test_indices_file(root, tmp_path):
    csv = str(tmp_path / 'CMMD-V2_indices.csv')
    perms = make_permutations(80, 20, seed=9)
    write_permutation_csv(csv, perms)
    ds = CrisisMMDDataset(root, split='val', seed=0, indices_file=csv)
    np.testing.assert_array_equal(ds.indices, perms[0][48:64])


class Payload:
    """An object whose unpickling would run code."""
    ran = False

    def __reduce__(self):
        return (Payload._run, ())

    @staticmethod
    def _run():
        Payload.ran = True
        return 'ran'


def write(tmp_path, obj):
    path = tmp_path / 'CMMD-V2' / 'CMMD_data.pth'
    path.parent.mkdir(exist_ok=True)
    torch.save(obj, str(path))
    return str(path.parent), str(path)


def test_errors_name_the_path(tmp_path):
    with pytest.raises(DataNotFoundError, match='CMMD_data.pth'):
        CrisisMMDDataset(str(tmp_path / 'nowhere'))
    (tmp_path / 'CMMD-V2').mkdir()
    with pytest.raises(DataNotFoundError) as err:
        CrisisMMDDataset(str(tmp_path / 'CMMD-V2'))
    assert str(tmp_path / 'CMMD-V2' / 'CMMD_data.pth') in str(err.value)

    x, t, y = (torch.rand(10, 2048), torch.rand(10, 768), torch.arange(10) % 8)
    cases = [
        (dict(image=x, text=t, labels=y), 'holds a dict'),
        ((x, t), 'of length 2'),
        ((x[:, :2047], t, y), r'\[10, 2047\], expected \[10, 2048\]'),
        ((x, t[:9], y), r'text_features has shape \[9, 768\]'),
        ((x, t, y + 1), r'0 \.\. 7'),
        ((x, t, y.float() + 0.5), 'not whole numbers'),
        ((x, t, argparse.Namespace(a=1)), 'Refused to load'),
        ((x, t, Payload()), 'Refused to load'),
    ]
    for obj, message in cases:
        data_root, path = write(tmp_path, obj)
        with pytest.raises(UserInputError, match=message) as err:
            CrisisMMDDataset(data_root)
        assert path in str(err.value)
    assert not Payload.ran  # refused without running the pickle's code


def test_nan_features_name_file_array_and_sample(root, tmp_path):
    image, text, labels = raw(root)
    text = text.copy()
    text[17, 5] = np.nan
    text[30, 0] = np.inf
    data_root = str(tmp_path / 'CMMD-V2')
    os.makedirs(data_root)
    path = osp.join(data_root, 'CMMD_data.pth')
    torch.save((image, text, labels), path)  # the release's numpy tuple
    with pytest.raises(UserInputError) as err:
        CrisisMMDDataset(data_root)
    assert str(err.value) == (f'{path}: text_features[17] contains NaN/Inf; '
                              'clean or drop that sample.')
    image = image.copy()
    image[3, 2047] = -np.inf
    torch.save((image, text, labels), path)
    with pytest.raises(UserInputError, match=r'image_features\[3\] contains'):
        CrisisMMDDataset(data_root, modalities=('image', ))


def test_dataset_memory_tool(root, tmp_path):
    """The memory tool measures given release files in a fresh process."""
    import json

    from tests.helpers import run_tool
    out = str(tmp_path / 'mem.json')
    res = run_tool([
        'tools/analysis_tools/dataset_memory.py', '--dataset', 'crisismmd',
        '--data-root', root, '--items', '10', '--json', out
    ])
    assert res.returncode == 0, res.stderr
    figures = json.load(open(out))
    assert figures['sizes'] == dict(train=48, val=16, test=16)
    assert figures['items'] == 10
    assert figures['item_shapes'] == dict(image=[2048], text=[768])
    assert 0 < figures['peak_rss_after_imports_gb'] <= figures['peak_rss_gb']
    assert figures['build_s'] > 0
    assert 'peak RSS' in res.stdout
    res = run_tool([
        'tools/analysis_tools/dataset_memory.py', '--dataset', 'crisismmd',
        '--data-root',
        str(tmp_path / 'nowhere')
    ])
    assert res.returncode == 2 and 'CMMD_data.pth' in res.stderr


def test_base_config(root, tmp_path):
    from mmengine.config import Config

    from mstkd.registry import DATASETS
    from tests.helpers import REPO, LOADERS
    from tests.release_data import load_release_config
    config = osp.join(REPO, 'configs', '_base_', 'datasets', 'crisismmd.py')
    raw = Config.fromfile(config)
    assert raw.train_dataloader.batch_size == 512
    assert raw.data_root == 'data/CMMD-V2'
    cfg = load_release_config(config, root, str(tmp_path), seed=4)
    for loader, split in zip(LOADERS, SPLITS):
        ds = DATASETS.build(cfg[loader].dataset)
        assert ds.seed == 4 and ds.split == split
        assert set(ds[0]['inputs']) == {'image', 'text'}


def test_loading_keeps_the_checkpoint_allowlist(root):
    """Reading the numpy release file must not drop globals that mstkd's
    safe checkpoint loading allowed process-wide (a scoped safe_globals
    removes its entries on exit)."""
    from mstkd.utils.compat import setup_safe_checkpoint_loading
    setup_safe_checkpoint_loading()
    before = set(torch.serialization.get_safe_globals())
    assert before, 'setup_safe_checkpoint_loading allowed nothing'
    CrisisMMDDataset(data_root=root, split='train')
    assert before <= set(torch.serialization.get_safe_globals())
