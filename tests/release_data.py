"""Tiny files in the EXACT release layouts of the four classification
benchmarks (/work/shared/DATA_FORMATS.md): same folder and file names, keys,
dtypes and shape ranks, with few samples (and small RAVDESS frames).

Every ``make_*`` writes under ``root`` and returns the release folder to pass
as ``data_root``. The data carry a learnable class signal (a class-dependent
block of raised values in every modality, on top of noise), and labels are
assigned so that, for run seed 0, every class appears in each split whenever
the split has at least as many samples as there are classes.
"""
import os
import os.path as osp
from typing import List, Optional, Sequence

import numpy as np
import torch

from mstkd.datasets.splits import SPLITS, get_permutation, split_indices

LOADERS = ('train_dataloader', 'val_dataloader', 'test_dataloader')


def release_options(data_root: str,
                    batch_size: Optional[int] = None,
                    num_workers: int = 0) -> List[str]:
    """``--cfg-options`` pointing the three dataloaders of a config built on
    ``configs/_base_/datasets/{av_mnist,ravdess,vggsound50k,crisismmd}.py``
    at tiny release files (``indices_file`` -> None: the permutation is
    regenerated for the tiny N).

    Args:
        data_root (str): What a ``make_*`` function returned.
        batch_size (int, optional): Batch size of every loader.
        num_workers (int): Worker processes of every loader (0 in tests).
    """
    opts = []
    for loader in LOADERS:
        opts += [
            f'{loader}.dataset.data_root={data_root}',
            f'{loader}.dataset.indices_file=None',
            f'{loader}.num_workers={num_workers}',
            f'{loader}.persistent_workers=False'
        ]
        if batch_size is not None:
            opts.append(f'{loader}.batch_size={batch_size}')
    return opts


def load_release_config(config: str,
                        data_root: str,
                        work_dir: str,
                        seed: Optional[int] = None,
                        **kwargs):
    """Load ``config`` as ``tools/train.py`` does, with
    :func:`release_options` parsed like ``--cfg-options`` on the command
    line, and the run seed ``seed``."""
    import argparse

    from mmengine.config import DictAction

    from mstkd.utils.run_config import load_run_config
    parser = argparse.ArgumentParser()
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    options = parser.parse_args(
        ['--cfg-options'] + release_options(data_root, **kwargs)).cfg_options
    return load_run_config(config, options, work_dir=work_dir, seed=seed)


def protocol_labels(n: int,
                    classes: Sequence[int],
                    rng: np.random.RandomState,
                    group: int = 0) -> np.ndarray:
    """Labels (int64) such that each split of run seed ``group`` cycles
    through ``classes`` (so each class appears when the split is large
    enough), shuffled within the split."""
    classes = np.asarray(classes, dtype=np.int64)
    perm = get_permutation(n, group)
    labels = np.empty(n, dtype=np.int64)
    for split in SPLITS:
        idx = split_indices(perm, split)
        labels[idx] = classes[rng.permutation(len(idx)) % len(classes)]
    return labels


def make_av_mnist(root: str,
                  n_train: int = 150,
                  n_test: int = 50,
                  seed: int = 0) -> str:
    """Write ``avmnist/`` (MultiBench layout): image ``[n, 784]`` and audio
    ``[n, 112, 112]`` float32 (0..255 scale), labels ``[n]`` int64 0..9, for
    the train and test parts.

    Class signal: image = a horizontal bar at a class-dependent row; audio =
    a band at class-dependent frequency rows. Labels of the concatenation
    (train first) follow :func:`protocol_labels`.

    Returns:
        str: ``root/avmnist``.
    """
    rng = np.random.RandomState(seed)
    data_root = osp.join(root, 'avmnist')
    os.makedirs(osp.join(data_root, 'image'), exist_ok=True)
    os.makedirs(osp.join(data_root, 'audio'), exist_ok=True)
    n = n_train + n_test
    labels = protocol_labels(n, range(10), rng)
    image = (rng.rand(n, 28, 28) * 90).astype(np.float32)
    audio = (rng.rand(n, 112, 112) * 100 + 20).astype(np.float32)
    for i, y in enumerate(labels):
        image[i, 3 + 2 * y:6 + 2 * y, 4:24] += 160
        audio[i, 8 + 10 * y:14 + 10 * y, :] += 120
    image = image.reshape(n, 784)
    for part, sl in (('train', slice(0, n_train)), ('test', slice(n_train,
                                                                  n))):
        np.save(osp.join(data_root, 'image', f'{part}_data.npy'), image[sl])
        np.save(osp.join(data_root, 'audio', f'{part}_data.npy'), audio[sl])
        np.save(osp.join(data_root, f'{part}_labels.npy'), labels[sl])
    return data_root


def make_ravdess(root: str, n: int = 80, size: int = 16, seed: int = 0) -> str:
    """Write ``RAVDESS_preprocessed_npy/``: ``video_data.npy`` ``[n, 15, 3,
    size, size]`` uint8, ``audio_data.npy`` ``[n, 15, 156]`` float32 (MFCC
    scale), ``label_data.npy`` ``[n]`` int64 0..7.

    Channels have different value ranges (so per-channel normalisation
    matters). Class signal: video = a bright square whose position depends on
    the class; audio = raised values in a class-dependent MFCC row.

    Returns:
        str: ``root/RAVDESS_preprocessed_npy``.
    """
    rng = np.random.RandomState(seed)
    data_root = osp.join(root, 'RAVDESS_preprocessed_npy')
    os.makedirs(data_root, exist_ok=True)
    labels = protocol_labels(n, range(8), rng)
    video = np.empty((n, 15, 3, size, size), dtype=np.uint8)
    for c, (lo, hi) in enumerate(((5, 120), (20, 160), (40, 200))):
        video[:, :, c] = rng.randint(lo, hi, size=(n, 15, size, size))
    half = max(size // 4, 1)
    for i, y in enumerate(labels):
        r, col = (y // 4) * (size // 2), (y % 4) * (size // 4)
        video[i, :, :, r:r + half * 2, col:col + half] = 250
    video[0, 0, 2, 0, 0] = 255  # channel maxima differ: 250, 250, 255
    audio = (rng.randn(n, 15, 156) * 20 - 100).astype(np.float32)
    for i, y in enumerate(labels):
        audio[i, 1 + y] += 150
    np.save(osp.join(data_root, 'video_data.npy'), video)
    np.save(osp.join(data_root, 'audio_data.npy'), audio)
    np.save(osp.join(data_root, 'label_data.npy'), labels)
    return data_root


def vggsound_name(i: int) -> str:
    """A clip name in the style of VGGSound's ``{youtube id}_{start}``."""
    return f'v-Id_{i:05d}x_{(i * 10) % 300:06d}'


def make_vggsound(root: str,
                  n: int = 30,
                  num_classes: int = 6,
                  seed: int = 0) -> str:
    """Write ``VGGS50K/``: ``VGGS50k_metadata.txt`` (``{name}&{class_id}``),
    per-clip ``{name}_vFeature.npy`` ``[10, 7, 7, 512]`` and
    ``{name}_aFeature.npy`` ``[10, 128]`` float32 in [0, 1] under
    ``VGGS50K_features_normed/``, and ``seg_labels/{name}_sLabel.npy``
    ``[1, 10]`` of 0/1 (float64).

    A visual file is 1 MB, so ``n`` stays small; ``num_classes`` class ids
    spread over 0..140 are used. Class signal: a class-dependent block of
    visual channels and of audio dimensions raised by 0.5.

    Returns:
        str: ``root/VGGS50K``.
    """
    rng = np.random.RandomState(seed)
    data_root = osp.join(root, 'VGGS50K')
    vis_dir = osp.join(data_root, 'VGGS50K_features_normed', 'visual_features')
    aud_dir = osp.join(data_root, 'VGGS50K_features_normed', 'audio_features')
    seg_dir = osp.join(data_root, 'seg_labels')
    for d in (vis_dir, aud_dir, seg_dir):
        os.makedirs(d, exist_ok=True)
    class_ids = np.linspace(0, 140, num_classes).astype(np.int64)
    labels = protocol_labels(n, class_ids, rng)
    lines = []
    for i, y in enumerate(labels):
        k = int(np.flatnonzero(class_ids == y)[0])
        name = vggsound_name(i)
        visual = rng.rand(10, 7, 7, 512).astype(np.float32) * 0.5
        visual[..., (k * 64) % 512:(k * 64) % 512 + 64] += 0.5
        audio = rng.rand(10, 128).astype(np.float32) * 0.5
        audio[:, (k * 16) % 128:(k * 16) % 128 + 16] += 0.5
        seg = (rng.rand(1, 10) < 0.7).astype(np.float64)
        np.save(osp.join(vis_dir, f'{name}_vFeature.npy'), visual)
        np.save(osp.join(aud_dir, f'{name}_aFeature.npy'), audio)
        np.save(osp.join(seg_dir, f'{name}_sLabel.npy'), seg)
        lines.append(f'{name}&{int(y)}')
    with open(osp.join(data_root, 'VGGS50k_metadata.txt'),
              'w',
              encoding='utf-8') as f:
        f.write('\n'.join(lines) + '\n')
    return data_root


def make_crisismmd(root: str,
                   n: int = 80,
                   seed: int = 0,
                   as_tensors: bool = False) -> str:
    """Write ``CMMD-V2/CMMD_data.pth``: ``torch.save((image [n, 2048],
    text [n, 768], labels [n]))`` with numpy arrays (float32, float32,
    int64) as the release's preprocessing does, or tensors with
    ``as_tensors=True``.

    Class signal: a class-dependent block of image and text dimensions
    raised by 1.

    Returns:
        str: ``root/CMMD-V2``.
    """
    rng = np.random.RandomState(seed)
    data_root = osp.join(root, 'CMMD-V2')
    os.makedirs(data_root, exist_ok=True)
    labels = protocol_labels(n, range(8), rng)
    image = np.abs(rng.randn(n, 2048)).astype(np.float32) * 0.5
    text = np.tanh(rng.randn(n, 768)).astype(np.float32) * 0.5
    for i, y in enumerate(labels):
        image[i, y * 256:y * 256 + 64] += 1
        text[i, y * 96:y * 96 + 32] += 1
    res = (image, text, labels)
    if as_tensors:
        res = tuple(torch.from_numpy(x) for x in res)
    torch.save(res, osp.join(data_root, 'CMMD_data.pth'))
    return data_root
