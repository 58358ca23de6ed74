"""Tiny NYU-Depth-V2 files in the exact on-disk layouts, for tests.

``make_nyu_mat`` writes a MATLAB v7.3 (HDF5) file laid out like the MST-Distill
release ``NYU-Depth-V2_data.mat`` (``images`` [N,3,W,H] uint8, ``depths``
[N,W,H], ``labels40`` [N,W,H]) or like the stock ``nyu_depth_v2_labeled.mat``
(``labels`` [N,W,H] uint16 raw classes, with an 894 -> 40 mapping file).
``make_nyu_root`` also runs the converter and returns the converted root.

The content is learnable: the scene is a grid of blocks; each block has a
class, a colour and a depth that depend on the class (plus noise), and a few
pixels are void (0).
"""
import importlib.util
import os
import os.path as osp
from typing import NamedTuple, Optional

import numpy as np

from .helpers import REPO

NUM_CLASSES = 40
NUM_RAW = 894
CONVERTER = osp.join(REPO, 'tools', 'dataset_converters', 'nyu_depth_v2.py')
MATLAB_HEADER = (b'MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: '
                 b'Mon Jan  1 00:00:00 2024 HDF5 schema 1.00 .')


class NYUMat(NamedTuple):
    """What :func:`make_nyu_mat` wrote, in natural (transposed-back) order.

    Attributes:
        path (str): The .mat file.
        mapping (str or None): The mapping file (stock layout only).
        images (np.ndarray): [N, H, W, 3] uint8 RGB.
        depths (np.ndarray): [N, H, W] float32 metres.
        labels40 (np.ndarray): [N, H, W] uint8, 0 = void, 1..40.
        raw_labels (np.ndarray or None): [N, H, W] raw classes (stock only).
    """
    path: str
    mapping: Optional[str]
    images: np.ndarray
    depths: np.ndarray
    labels40: np.ndarray
    raw_labels: Optional[np.ndarray]


def load_converter():
    """Import ``tools/dataset_converters/nyu_depth_v2.py`` as a module."""
    spec = importlib.util.spec_from_file_location('nyu_depth_v2_converter',
                                                  CONVERTER)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def class_colour(c: np.ndarray) -> np.ndarray:
    """A colour per 40-class label (void = grey); [..., 3] float."""
    c = np.asarray(c, dtype=np.float64)
    return np.stack([40 + 5 * c, 240 - 5 * c, 30 + (c * 37) % 200], axis=-1)


def class_depth(c: np.ndarray) -> np.ndarray:
    """A depth in metres per 40-class label."""
    return 0.5 + 0.2 * np.asarray(c, dtype=np.float64)


def make_scene(n: int, h: int, w: int, block: int = 8, seed: int = 0):
    """Labels, RGB and depth of ``n`` tiny block scenes.

    Returns:
        tuple: labels40 [N,H,W] uint8, images [N,H,W,3] uint8, depths
        [N,H,W] float32 metres.
    """
    rng = np.random.RandomState(seed)
    bh, bw = -(-h // block), -(-w // block)
    labels = np.zeros((n, h, w), np.uint8)
    k = 0
    for i in range(n):
        grid = np.zeros((bh, bw), np.int64)
        for y in range(bh):
            for x in range(bw):
                grid[y, x] = k % NUM_CLASSES + 1  # every class appears
                k += 1 + rng.randint(3)
        labels[i] = np.kron(grid, np.ones((block, block), np.int64))[:h, :w]
    void = rng.rand(n, h, w) < 0.05
    void[:, 0, :] = True  # a void border row in every image
    labels[void] = 0
    images = class_colour(labels) + rng.randn(n, h, w, 3) * 6
    images = np.clip(np.rint(images), 0, 255).astype(np.uint8)
    depths = class_depth(labels) + rng.rand(n, h, w) * 0.05
    return labels, images, depths.astype(np.float32)


def _write_matlab_v73(path: str, arrays: dict) -> None:
    """Write ``arrays`` (already in HDF5 order) as MATLAB v7.3 does: an HDF5
    file with a 512-byte user block holding the MATLAB header."""
    import h5py
    with h5py.File(path, 'w', userblock_size=512) as f:
        for key, (value, matlab_class) in arrays.items():
            dset = f.create_dataset(key, data=value)
            dset.attrs['MATLAB_class'] = np.bytes_(matlab_class)
    with open(path, 'r+b') as f:
        f.write(MATLAB_HEADER.ljust(116, b' '))


def make_nyu_mat(path: str, n: int = 6, h: int = 24, w: int = 32,
                 stock: bool = False, seed: int = 0) -> NYUMat:
    """Write a tiny NYU-Depth-V2 .mat file in the exact HDF5 layout.

    Args:
        path (str): Output .mat path.
        n, h, w (int): Samples, height, width.
        stock (bool): False: the release layout (``labels40``, float64 as
            MATLAB's default double). True: the stock layout (``labels``,
            uint16 raw classes 0..894) plus ``<path>_mapping.mat`` holding
            ``mapClass`` (1x894, raw -> 40) as in ``classMapping40.mat``.
        seed (int): Random seed of the content.

    Returns:
        NYUMat: The file path, mapping path and the arrays in natural order.
    """
    labels, images, depths = make_scene(n, h, w, seed=seed)
    # MATLAB H x W x 3 x N is stored by HDF5 as N x 3 x W x H.
    hdf_images = np.ascontiguousarray(images.transpose(0, 3, 2, 1))
    hdf_depths = np.ascontiguousarray(depths.transpose(0, 2, 1))
    arrays = dict(images=(hdf_images, 'uint8'),
                  depths=(hdf_depths, 'single'))
    mapping = raw = None
    if not stock:
        arrays['labels40'] = (np.ascontiguousarray(
            labels.transpose(0, 2, 1)).astype(np.float64), 'double')
    else:
        rng = np.random.RandomState(seed + 1)
        map_class = rng.randint(1, NUM_CLASSES + 1, size=NUM_RAW)
        map_class[:NUM_CLASSES] = np.arange(1, NUM_CLASSES + 1)
        raw = np.zeros_like(labels, dtype=np.uint16)
        for c in range(1, NUM_CLASSES + 1):
            where = labels == c
            candidates = np.flatnonzero(map_class == c) + 1  # raw ids
            raw[where] = rng.choice(candidates, size=int(where.sum()))
        arrays['labels'] = (np.ascontiguousarray(raw.transpose(0, 2, 1)),
                            'uint16')
        from scipy.io import savemat
        mapping = osp.splitext(path)[0] + '_mapping.mat'
        savemat(mapping, dict(mapClass=map_class[None].astype(np.float64)))
    _write_matlab_v73(path, arrays)
    return NYUMat(path, mapping, images, depths, labels, raw)


def make_splits_mat(path: str, train: np.ndarray, test: np.ndarray) -> str:
    """Write a ``splits.mat`` (MATLAB v5) with 1-based column vectors."""
    from scipy.io import savemat
    savemat(path, dict(trainNdxs=(np.asarray(train) + 1.0)[:, None],
                       testNdxs=(np.asarray(test) + 1.0)[:, None]))
    return path


def make_nyu_root(tmp_dir: str, n: int = 10, h: int = 32, w: int = 32,
                  stock: bool = False, depth_format: str = 'png16',
                  with_splits: bool = True, seed: int = 0) -> str:
    """Make a tiny .mat and convert it; returns the dataset ``data_root``.

    Args:
        tmp_dir (str): Working folder; the data root is ``tmp_dir/nyu``.
        n, h, w (int): Samples, height, width.
        stock (bool): Start from the stock layout + mapping.
        depth_format (str): ``'png16'`` or ``'npy'``.
        with_splits (bool): Also write ``splits/standard_*.txt`` from a
            splits.mat (first 60% train, rest test).
        seed (int): Random seed of the content.

    Returns:
        str: The converted root (images/, depths/, labels/, metadata/,
        meta.json[, splits/]).
    """
    os.makedirs(tmp_dir, exist_ok=True)
    mat = make_nyu_mat(osp.join(tmp_dir, 'nyu.mat'), n, h, w, stock, seed)
    splits = None
    if with_splits:
        cut = int(0.6 * n)
        splits = make_splits_mat(osp.join(tmp_dir, 'splits.mat'),
                                 np.arange(cut), np.arange(cut, n))
    root = osp.join(tmp_dir, 'nyu')
    load_converter().convert_nyu_depth_v2(
        mat.path, root, mapping=mat.mapping, splits_mat=splits,
        depth_format=depth_format, log=lambda msg: None)
    return root
