"""NYU-Depth-V2: converter, dataset, RGB-D transforms, config and
preprocessor, on tiny files in the exact .mat layouts (tests/nyu_data.py)."""
import csv
import json
import os.path as osp

import cv2
import h5py
import mmcv
import numpy as np
import pytest
import torch
from mmengine.dataset import Compose, pseudo_collate

from mstkd.datasets.nyu_depth_v2 import NYU_CLASSES, NYUDepthV2SegDataset
from mstkd.datasets.transforms import (ConcatRGBD, LoadDepthFromFile,
                                       NormalizeRGBD,
                                       RGBOnlyPhotoMetricDistortion)
from mstkd.datasets.splits import make_permutations, split_indices
from mstkd.registry import DATASETS, MODELS, TRANSFORMS
from mstkd.utils import register_all_modules
from mstkd.utils.errors import DataNotFoundError, UserInputError
from mstkd.utils.run_config import load_run_config
from tests.helpers import REPO, run_tool
from tests.nyu_data import (NUM_CLASSES, NUM_RAW, load_converter,
                            make_nyu_mat, make_nyu_root, make_scene,
                            make_splits_mat)

CONFIG = osp.join(REPO, 'configs', '_base_', 'datasets', 'nyu_depth_v2.py')
conv = load_converter()
PIPELINE = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadDepthFromFile'),
    dict(type='mmseg.LoadAnnotations'),
    dict(type='ConcatRGBD'),
    dict(type='NormalizeRGBD'),
    dict(type='mmseg.PackSegInputs'),
]


@pytest.fixture(autouse=True, scope='module')
def _scope():
    register_all_modules()


@pytest.fixture(scope='module')
def root(tmp_path_factory):
    """10 samples of 24x40 (not multiples of 32), release layout."""
    return make_nyu_root(str(tmp_path_factory.mktemp('nyu')), n=10, h=24,
                         w=40)


def quiet(msg):
    pass


def build(data_root, split='train', seed=0, pipeline=PIPELINE, **kwargs):
    return DATASETS.build(
        dict(type='NYUDepthV2SegDataset', data_root=data_root, split=split,
             seed=seed, pipeline=pipeline, **kwargs))


# ---------------------------------------------------------------------------
# Converter
# ---------------------------------------------------------------------------
def test_converter_release_equals_transposed_source(tmp_path):
    src = make_nyu_mat(str(tmp_path / 'NYU-Depth-V2_data.mat'), n=6, h=24,
                       w=32)
    with h5py.File(src.path, 'r') as f:  # the exact MATLAB/HDF5 layout
        assert f['images'].shape == (6, 3, 32, 24)
        assert f['images'].dtype == np.uint8
        assert f['depths'].shape == f['labels40'].shape == (6, 32, 24)
    out = str(tmp_path / 'out')
    meta = conv.convert_nyu_depth_v2(src.path, out, log=quiet)
    for i in range(6):
        stem = f'{i:04d}'
        bgr = cv2.imread(osp.join(out, 'images', stem + '.png'))
        np.testing.assert_array_equal(bgr[..., ::-1], src.images[i])
        np.testing.assert_array_equal(
            mmcv.imread(osp.join(out, 'images', stem + '.png'),
                        channel_order='rgb'), src.images[i])
        mm = cv2.imread(osp.join(out, 'depths', stem + '.png'),
                        cv2.IMREAD_UNCHANGED)
        assert mm.dtype == np.uint16 and mm.shape == (24, 32)
        np.testing.assert_allclose(mm / 1000.0, src.depths[i],
                                   atol=5e-4 + 1e-6)
        lab = cv2.imread(osp.join(out, 'labels', stem + '.png'),
                         cv2.IMREAD_UNCHANGED)
        assert lab.dtype == np.uint8
        np.testing.assert_array_equal(lab, src.labels40[i])
    assert (src.labels40 == 0).any() and src.labels40.max() <= NUM_CLASSES
    assert meta == json.load(open(osp.join(out, 'meta.json')))
    assert (meta['num_samples'], meta['height'], meta['width']) == (6, 24, 32)
    assert meta['rgb_min'] == src.images.min((0, 1, 2)).tolist()
    assert meta['rgb_max'] == src.images.max((0, 1, 2)).tolist()
    assert meta['label_pixel_counts'] == np.bincount(
        src.labels40.ravel(), minlength=41).tolist()
    assert meta['source_kind'] == 'release' and meta['depth_format'] == 'png16'
    perms = make_permutations(6)

    rows = list(csv.DictReader(
        open(osp.join(out, 'metadata', 'NYU-Depth-V2_indices.csv'))))
    assert len(rows) == 6 and len(rows[0]) == 20
    for g in (0, 7, 19):
        assert [int(r[f'group_{g}']) for r in rows] == perms[g].tolist()


def test_converter_stock_with_mapping_npy_depth_and_splits(tmp_path):
    src = make_nyu_mat(str(tmp_path / 'nyu_depth_v2_labeled.mat'), n=5,
                       h=16, w=24, stock=True)
    assert src.raw_labels.max() > NUM_CLASSES  # really raw classes
    splits = make_splits_mat(str(tmp_path / 'splits.mat'), np.array([4, 0]),
                             np.array([1, 2, 3]))
    out = str(tmp_path / 'out')
    meta = conv.convert_nyu_depth_v2(src.path, out, mapping=src.mapping,
                                     splits_mat=splits, depth_format='npy',
                                     log=quiet)
    assert meta['source_kind'] == 'stock' and meta['label_key'] == 'labels'
    for i in range(5):
        lab = cv2.imread(osp.join(out, 'labels', f'{i:04d}.png'),
                         cv2.IMREAD_UNCHANGED)
        np.testing.assert_array_equal(lab, src.labels40[i])
        depth = np.load(osp.join(out, 'depths', f'{i:04d}.npy'))
        assert depth.dtype == np.float32
        np.testing.assert_array_equal(depth, src.depths[i])  # lossless
    read = lambda name: open(osp.join(out, 'splits', name)).read().split()
    assert read('standard_train.txt') == ['0004', '0000']  # 1-based -> 0
    assert read('standard_test.txt') == ['0001', '0002', '0003']


def test_class_mapping_formats(tmp_path):
    from scipy.io import savemat
    table = (np.arange(NUM_RAW) % NUM_CLASSES) + 1  # raw k -> (k-1)%40+1
    expect = np.concatenate([[0], table])
    np.save(tmp_path / 'a.npy', table)
    np.save(tmp_path / 'b.npy', expect)
    (tmp_path / 'c.txt').write_text('\n'.join(map(str, table)))
    (tmp_path / 'd.txt').write_text('# raw new\n3 7\n894 40\n')
    savemat(tmp_path / 'e.mat', dict(mapClass=table[None].astype(float),
                                     className=np.array(['wall'])))
    for name in ('a.npy', 'b.npy', 'c.txt', 'e.mat'):
        np.testing.assert_array_equal(
            conv.load_class_mapping(str(tmp_path / name)), expect)
    pairs = conv.load_class_mapping(str(tmp_path / 'd.txt'))
    assert pairs[3] == 7 and pairs[894] == 40 and pairs[[0, 1, 2]].sum() == 0
    np.save(tmp_path / 'short.npy', table[:10])
    with pytest.raises(UserInputError, match='10 entries; expected 894'):
        conv.load_class_mapping(str(tmp_path / 'short.npy'))
    np.save(tmp_path / 'big.npy', table + 1)
    with pytest.raises(UserInputError, match=r'0\.\.40, found 0\.\.41'):
        conv.load_class_mapping(str(tmp_path / 'big.npy'))
    np.save(tmp_path / 'void.npy', expect + 1)
    with pytest.raises(UserInputError, match='entry 0'):
        conv.load_class_mapping(str(tmp_path / 'void.npy'))
    with pytest.raises(DataNotFoundError, match='classMapping40'):
        conv.load_class_mapping(str(tmp_path / 'missing.mat'))


def test_converter_errors(tmp_path):
    out = str(tmp_path / 'out')
    with pytest.raises(DataNotFoundError, match='nyu_depth_v2_labeled.mat'):
        conv.convert_nyu_depth_v2(str(tmp_path / 'none.mat'), out)
    (tmp_path / 'v5.mat').write_bytes(b'MATLAB 5.0 MAT-file' + bytes(200))
    with pytest.raises(UserInputError, match='not an HDF5 file.*v7.3'):
        conv.convert_nyu_depth_v2(str(tmp_path / 'v5.mat'), out)
    with h5py.File(tmp_path / 'partial.mat', 'w') as f:
        f['images'] = np.zeros((2, 3, 8, 6), np.uint8)
        f['labels40'] = np.zeros((2, 8, 6))
    with pytest.raises(UserInputError,
                       match=r"lacks \['depths'\]. Found: \['images', "
                       r"'labels40'\]; expected images \[N,3,W,H\]"):
        conv.convert_nyu_depth_v2(str(tmp_path / 'partial.mat'), out)
    with h5py.File(tmp_path / 'nolabel.mat', 'w') as f:
        f['images'] = np.zeros((2, 3, 8, 6), np.uint8)
    with pytest.raises(UserInputError, match='no label dataset'):
        conv.convert_nyu_depth_v2(str(tmp_path / 'nolabel.mat'), out)
    with h5py.File(tmp_path / 'range.mat', 'w') as f:
        f['images'] = np.zeros((2, 3, 8, 6), np.uint8)
        f['depths'] = np.ones((2, 8, 6), np.float32)
        labels = np.zeros((2, 8, 6))
        labels[1, 2, 3] = 41
        f['labels40'] = labels
    with pytest.raises(UserInputError,
                       match=r'labels40\[1\] has labels 0.0\.\.41.0 out of '
                       'range'):
        conv.convert_nyu_depth_v2(str(tmp_path / 'range.mat'), out,
                                  log=quiet)
    release = make_nyu_mat(str(tmp_path / 'release.mat'), n=2, h=8, w=8)
    stock = make_nyu_mat(str(tmp_path / 'stock.mat'), n=2, h=8, w=8,
                         stock=True)
    with pytest.raises(UserInputError, match='drop --mapping'):
        conv.convert_nyu_depth_v2(release.path, out, mapping=stock.mapping)
    # The command line: a clear message, no traceback, exit status 2.
    proc = run_tool(['tools/dataset_converters/nyu_depth_v2.py', stock.path,
                     '-o', out])
    assert proc.returncode == 2, proc.stderr
    assert 'Traceback' not in proc.stderr
    assert 'stock labelled set' in proc.stderr and '--mapping' in \
        proc.stderr


# ---------------------------------------------------------------------------
# Dataset
# ---------------------------------------------------------------------------
def test_release_splits_per_seed(root):
    for seed in (0, 3):
        sets = {s: build(root, s, seed) for s in ('train', 'val', 'test')}
        assert [len(sets[s]) for s in ('train', 'val', 'test')] == [6, 2, 2]
        perm = make_permutations(10, seed + 1)[seed]
        for s, ds in sets.items():
            np.testing.assert_array_equal(ds.sample_indices,
                                          split_indices(perm, s))
            assert [ds.get_data_info(i)['nyu_index'] for i in
                    range(len(ds))] == ds.sample_indices.tolist()
        every = np.concatenate([d.sample_indices for d in sets.values()])
        np.testing.assert_array_equal(np.sort(every), np.arange(10))
    again = build(root, 'test', 3)
    np.testing.assert_array_equal(again.sample_indices,
                                  sets['test'].sample_indices)
    assert not np.array_equal(build(root, 'train', 0).sample_indices,
                              build(root, 'train', 3).sample_indices)
    info = sets['train'].get_data_info(0)
    stem = f"{info['nyu_index']:04d}"
    assert info['img_path'] == osp.join(root, 'images', stem + '.png')
    assert info['depth_path'] == osp.join(root, 'depths', stem + '.png')
    assert info['seg_map_path'] == osp.join(root, 'labels', stem + '.png')
    assert info['reduce_zero_label'] is True and info['seg_fields'] == []
    meta = sets['train'].metainfo
    assert meta['classes'] == NYU_CLASSES and len(meta['palette']) == 40
    assert meta['classes'][0] == 'wall' and meta['classes'][-1] == 'otherprop'
    # registered for mmseg's own tools as well
    from mmseg.registry import DATASETS as MMSEG_DATASETS
    from mmseg.registry import TRANSFORMS as MMSEG_TRANSFORMS
    assert MMSEG_DATASETS.get('NYUDepthV2SegDataset') is NYUDepthV2SegDataset
    for cls in (LoadDepthFromFile, ConcatRGBD, NormalizeRGBD,
                RGBOnlyPhotoMetricDistortion):
        assert TRANSFORMS.get(cls.__name__) is cls
        assert MMSEG_TRANSFORMS.get(cls.__name__) is cls


def test_release_split_reads_the_permutation_csv(tmp_path):
    data_root = make_nyu_root(str(tmp_path), n=10, h=8, w=8,
                              with_splits=False)
    from mstkd.datasets.splits import write_permutation_csv
    mine = [np.arange(10)[::-1].copy()] * 20
    write_permutation_csv(
        osp.join(data_root, 'metadata', 'NYU-Depth-V2_indices.csv'), mine)
    assert build(data_root, 'test').sample_indices.tolist() == [1, 0]


def test_standard_split_modes(root):
    ds = {s: build(root, s, split_mode='standard')
          for s in ('train', 'val', 'test')}
    assert ds['train'].sample_indices.tolist() == list(range(6))
    assert ds['test'].sample_indices.tolist() == [6, 7, 8, 9]
    assert ds['val'].sample_indices.tolist() == [6, 7, 8, 9]  # val = test
    held = {s: build(root, s, seed=1, split_mode='standard',
                     standard_val_ratio=0.5) for s in ('train', 'val')}
    tr, va = held['train'].sample_indices, held['val'].sample_indices
    assert len(tr) == len(va) == 3
    np.testing.assert_array_equal(np.sort(np.r_[tr, va]), np.arange(6))


def test_items_values_labels_and_normalisation(root):
    labels, images, depths = make_scene(10, 24, 40)  # what root holds
    meta = json.load(open(osp.join(root, 'meta.json')))
    lo = np.array(meta['rgb_min'], np.float32)
    hi = np.array(meta['rgb_max'], np.float32)
    ds = build(root, 'val', seed=2)
    raw = build(root, 'val', seed=2, reduce_zero_label=False)
    for k in range(len(ds)):
        i = ds.sample_indices[k]
        item = ds[k]
        x = item['inputs']
        assert x.dtype == torch.float32 and x.shape == (4, 24, 40)
        rgb = (images[i].astype(np.float32) - lo) / (hi - lo)  # R, G, B
        np.testing.assert_allclose(x[:3].permute(1, 2, 0).numpy(), rgb,
                                   rtol=0, atol=1e-6)
        d = np.round(depths[i] * 1000) / 1000  # png16 quantisation
        d = (d - d.min()) / (d.max() - d.min())
        np.testing.assert_allclose(x[3].numpy(), d, rtol=0, atol=1e-5)
        assert float(x[3].min()) == 0.0 and float(x[3].max()) == 1.0
        gt = item['data_samples'].gt_sem_seg.data
        assert gt.shape == (1, 24, 40) and gt.dtype == torch.int64
        expect = labels[i].astype(np.int64) - 1
        expect[labels[i] == 0] = 255  # void -> ignored
        np.testing.assert_array_equal(gt[0].numpy(), expect)
        np.testing.assert_array_equal(
            raw[k]['data_samples'].gt_sem_seg.data[0].numpy(), labels[i])
        assert item['data_samples'].img_path == ds.get_data_info(k)[
            'img_path']


def test_depth_npy_root_loads_exact_metres(tmp_path):
    data_root = make_nyu_root(str(tmp_path), n=5, h=8, w=12,
                              depth_format='npy', with_splits=False)
    _, _, depths = make_scene(5, 8, 12)
    ds = build(data_root, 'train', pipeline=[dict(type='LoadDepthFromFile')])
    out = ds[0]
    np.testing.assert_array_equal(out['depth'],
                                  depths[ds.sample_indices[0]])


def test_missing_data_errors_are_friendly(tmp_path):
    with pytest.raises(DataNotFoundError) as err:
        build(str(tmp_path / 'absent'))
    msg = str(err.value)
    for part in ('does not exist', 'NYU-Depth-V2_data.mat',
                 'nyu_depth_v2_labeled.mat', 'classMapping40.mat',
                 'python tools/dataset_converters/nyu_depth_v2.py',
                 'train_dataloader.dataset.data_root=',
                 'test_dataloader.dataset.data_root=',
                 'images/0000.png', 'docs/nyu_depth_v2.md'):
        assert part in msg, part
    (tmp_path / 'raw').mkdir()
    (tmp_path / 'raw' / 'NYU-Depth-V2_data.mat').write_bytes(b'x')
    with pytest.raises(DataNotFoundError,
                       match=r'(?s)meta.json is missing.*holds '
                       r'NYU-Depth-V2_data.mat, which must be converted'):
        build(str(tmp_path / 'raw'))
    data_root = make_nyu_root(str(tmp_path / 'c'), n=5, h=8, w=8,
                              with_splits=False)
    import os
    os.remove(osp.join(data_root, 'labels', '0003.png'))
    with pytest.raises(DataNotFoundError, match='labels/0003.png'):
        for split in ('train', 'val', 'test'):
            build(data_root, split)
    with pytest.raises(DataNotFoundError, match='--splits-mat'):
        build(data_root, split_mode='standard')
    with pytest.raises(ValueError, match='split must be'):
        build(data_root, split='dev')


# ---------------------------------------------------------------------------
# Transforms
# ---------------------------------------------------------------------------
def coded_sample(h=24, w=32):
    """A sample whose pixels say where they came from: R = 8x, G = 8y (so
    x, y < 32), depth = 1 + x/10 + y/100, label = 1 + (x + 2y) % 40."""
    y, x = np.mgrid[:h, :w]
    rgb = np.stack([8 * x, 8 * y, np.full_like(x, 100)], -1).astype(np.uint8)
    depth = (1 + x / 10 + y / 100).astype(np.float32)
    label = (1 + (x + 2 * y) % 40).astype(np.uint8)
    results = dict(img=np.ascontiguousarray(rgb[..., ::-1]),  # BGR, as mmcv
                   depth=depth, gt_seg_map=label, seg_fields=['gt_seg_map'],
                   img_shape=(h, w), ori_shape=(h, w), rgb_min=[0, 0, 0],
                   rgb_max=[255, 255, 255])
    return results, depth


def test_geometric_transforms_keep_rgb_depth_label_aligned():
    head = Compose([dict(type='ConcatRGBD'),
                    dict(type='NormalizeRGBD', depth_range=(0.0, 10.0))])
    tail = Compose([dict(type='mmseg.RandomCrop', crop_size=(13, 17)),
                    dict(type='mmseg.RandomFlip', prob=0.5,
                         direction=['horizontal', 'vertical'])])
    seen_flips = set()
    for seed in range(8):
        np.random.seed(seed)
        results, depth = coded_sample()
        out = tail(head(results))
        img = out['img']
        assert img.shape == (13, 17, 4) and img.dtype == np.float32
        seen_flips.add(out['flip_direction'] if out['flip'] else None)
        x = np.rint(img[..., 0] * 255 / 8).astype(int)  # where each pixel
        y = np.rint(img[..., 1] * 255 / 8).astype(int)  # came from
        np.testing.assert_allclose(img[..., 3] * 10, depth[y, x], atol=1e-5)
        np.testing.assert_array_equal(out['gt_seg_map'],
                                      1 + (x + 2 * y) % 40)
    assert len(seen_flips) == 3  # none, horizontal and vertical were drawn

    # Resize: depth is interpolated bilinearly as an image channel (exactly
    # as resizing it alone), the label by nearest neighbour.
    results, depth = coded_sample()
    rgbd = head(results)
    resize = TRANSFORMS.build(
        dict(type='mmseg.RandomResize', scale=(64, 48), ratio_range=(1.5,
                                                                     1.5),
             keep_ratio=True, resize_type='mmseg.Resize'))
    out = resize(dict(rgbd, img=rgbd['img'].copy()))
    assert out['img'].shape == (72, 96, 4)
    np.testing.assert_allclose(
        out['img'][..., 3],
        cv2.resize(rgbd['img'][..., 3], (96, 72),
                   interpolation=cv2.INTER_LINEAR), atol=1e-6)
    np.testing.assert_array_equal(
        out['gt_seg_map'],
        cv2.resize(results['gt_seg_map'], (96, 72),
                   interpolation=cv2.INTER_NEAREST))
    between = np.unique(out['img'][..., 3] * 10)
    assert len(between) > len(np.unique(depth))  # interpolated, not copied


def test_photometric_distortion_touches_rgb_only():
    cfg = dict(type='RGBOnlyPhotoMetricDistortion', brightness_delta=60,
               hue_delta=30)
    pmd = TRANSFORMS.build(cfg)
    changed = 0
    for seed in range(6):
        results, depth = coded_sample()
        bgr = results['img'].copy()
        np.random.seed(seed)
        out3 = pmd(results)  # before ConcatRGBD: uint8 BGR, depth apart
        np.testing.assert_array_equal(out3['depth'], depth)
        results4, _ = coded_sample()
        rgbd = TRANSFORMS.build(dict(type='ConcatRGBD'))(results4)
        np.random.seed(seed)
        out4 = pmd(dict(rgbd, img=rgbd['img'].copy()))  # after ConcatRGBD
        np.testing.assert_array_equal(out4['img'][..., 3], depth)
        # the same draw distorts the colour identically on both paths
        np.testing.assert_array_equal(out4['img'][..., :3],
                                      out3['img'][..., ::-1])
        changed += int(not np.array_equal(out3['img'], bgr))
    assert changed >= 4
    results, _ = coded_sample()
    normed = Compose([dict(type='ConcatRGBD'),
                      dict(type='NormalizeRGBD')])(results)
    with pytest.raises(ValueError, match='before NormalizeRGBD'):
        pmd(normed)


def test_transform_errors():
    results, _ = coded_sample()
    del results['depth']
    with pytest.raises(KeyError, match='LoadDepthFromFile before'):
        TRANSFORMS.build(dict(type='ConcatRGBD'))(results)
    results, _ = coded_sample()
    del results['rgb_min'], results['rgb_max']
    rgbd = TRANSFORMS.build(dict(type='ConcatRGBD'))(results)
    with pytest.raises(KeyError, match='meta.json'):
        TRANSFORMS.build(dict(type='NormalizeRGBD'))(rgbd)
    given = TRANSFORMS.build(
        dict(type='NormalizeRGBD', rgb_min=[0, 0, 100],
             rgb_max=[255, 255, 200]))(rgbd)
    np.testing.assert_allclose(given['img'][..., 2], 0.0)  # (100-100)/100
    with pytest.raises(ValueError, match='appears twice'):
        TRANSFORMS.build(dict(type='NormalizeRGBD'))(given)


# ---------------------------------------------------------------------------
# Config, data preprocessor, evaluator
# ---------------------------------------------------------------------------
def test_base_config_cfg_options_seed_and_aug_pipeline(root):
    opts = {f'{k}.dataset.data_root': root
            for k in ('train_dataloader', 'val_dataloader', 'test_dataloader')}
    cfg = load_run_config(CONFIG, dict(opts), seed=4)
    assert cfg.train_dataloader.batch_size == 6
    assert cfg.img_scale == (480, 640)
    sizes = []
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        ds = DATASETS.build(cfg[key].dataset)
        assert ds.seed == 4 and ds.data_root == root
        sizes.append(len(ds))
    assert sizes == [6, 2, 2]
    # `data_root=` alone does not reach the loaders (python configs resolve
    # variables at load time): the docs use the three-key form above.
    only_var = load_run_config(CONFIG, dict(data_root=root))
    assert only_var.train_dataloader.dataset.data_root != root

    aug = DATASETS.build(dict(cfg.train_dataloader.dataset,
                              pipeline=cfg.train_pipeline_aug))
    np.random.seed(0)
    item = aug[0]
    c, h, w = item['inputs'].shape
    assert c == 4 and item['inputs'].dtype == torch.float32
    assert item['data_samples'].gt_sem_seg.shape == (h, w)
    # 24x40 fitted into (640, 480) x ratio (0.75..1.5): x16r, then cropped
    # to at most 480x640
    assert 288 <= h <= 480 and 480 <= w <= 640
    assert abs(w - min(h * 40 / 24, 640)) <= 1 if h < 480 else w == 640


def test_preprocessor_accepts_packed_batch_and_pads_to_32(root):
    cfg = load_run_config(CONFIG)
    pre = MODELS.build(cfg.data_preprocessor)
    ds = build(root, 'train')
    items = [ds[i] for i in range(3)]
    for training in (True, False):
        batch = pseudo_collate([dict(inputs=it['inputs'].clone(),
                                     data_samples=it['data_samples'].clone())
                                for it in items])
        out = pre(batch, training=training)
        x = out['inputs']
        assert x.shape == (3, 4, 32, 64) and x.dtype == torch.float32
        for k, it in enumerate(items):  # no BGR swap, no mean/std
            torch.testing.assert_close(x[k, :, :24, :40], it['inputs'])
        assert float(x[:, :, 24:].abs().sum()) == 0.0
        assert float(x[:, :, :, 40:].abs().sum()) == 0.0
        if training:
            gt = torch.stack([s.gt_sem_seg.data for s in
                              out['data_samples']])
            assert gt.shape == (3, 1, 32, 64)
            assert (gt[:, :, 24:] == 255).all() and (gt[..., 40:] == 255).all()
        else:
            # the segmentor crops this padding off its predictions
            assert tuple(out['data_samples'][0].img_padding_size) == (0, 24,
                                                                      0, 8)


def test_iou_metric_excludes_void(root):
    cfg = load_run_config(CONFIG)
    from mstkd.registry import METRICS
    from mmseg.structures import SegDataSample
    from mmengine.structures import PixelData
    metric = METRICS.build(cfg.val_evaluator)
    metric.dataset_meta = build(root, 'val').metainfo
    ds = build(root, 'val')
    samples = []
    for k in range(len(ds)):
        gt = ds[k]['data_samples'].gt_sem_seg.data
        pred = gt.clone()
        pred[pred == 255] = 0  # anything on void pixels must not count
        sample = SegDataSample(gt_sem_seg=PixelData(data=gt),
                               pred_sem_seg=PixelData(data=pred))
        samples.append(sample.to_dict())
    metric.process([], samples)
    result = metric.compute_metrics(metric.results)
    assert result['aAcc'] == 100.0 and result['mIoU'] == 100.0
    assert result['mAcc'] == 100.0


def test_npy_depth_with_nan_names_the_file_and_pixel(tmp_path):
    depth = np.full((4, 5), 2.5, dtype=np.float32)
    np.save(tmp_path / 'ok.npy', depth)
    out = LoadDepthFromFile().transform(
        dict(depth_path=str(tmp_path / 'ok.npy')))
    assert np.array_equal(out['depth'], depth)
    depth[1, 3] = np.nan
    depth[2, 0] = np.inf
    np.save(tmp_path / 'bad.npy', depth)
    with pytest.raises(UserInputError) as err:
        LoadDepthFromFile().transform(
            dict(depth_path=str(tmp_path / 'bad.npy')))
    msg = str(err.value)
    assert 'bad.npy' in msg and 'depth[1, 3]' in msg and '2 pixels' in msg
