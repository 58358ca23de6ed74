#!/usr/bin/env python
"""Convert NYU-Depth-V2 (MATLAB v7.3 / HDF5 .mat) into mstkd's image tree.

    python tools/dataset_converters/nyu_depth_v2.py MAT_FILE -o OUT_DIR \\
        [--mapping FILE] [--splits-mat FILE] [--depth-format png16|npy]

Two inputs are accepted (both HDF5 files with MATLAB's transposed layout,
``images`` [N,3,W,H] uint8, ``depths`` [N,W,H] float metres):

* the MST-Distill release's ``NYU-Depth-V2_data.mat``, which already holds the
  40-class labels as ``labels40`` [N,W,H] (0 = void, 1..40);
* the stock ``nyu_depth_v2_labeled.mat`` of Silberman et al., whose ``labels``
  [N,W,H] are the 894 raw classes; ``--mapping`` gives the 894 -> 40 table of
  Gupta et al. (CVPR 2013). Raw class 0 (unlabelled) always maps to 0 (void).

Accepted ``--mapping`` formats (see :func:`load_class_mapping`):

* ``.mat`` (MATLAB v5 through scipy, or v7.3 through h5py) with the variable
  ``mapClass`` (as in ``classMapping40.mat``), or exactly one numeric vector;
* ``.npy`` holding a 1-D integer table;
* text (``.txt``/``.csv``/...): one integer per line (a 1-D table), or two
  integers per line ``raw_id new_id`` (explicit pairs; unlisted raw ids -> 0).

A 1-D table of length 894 maps raw ids 1..894 (entry ``k-1`` is the class of
raw id ``k``, MATLAB style); a table of length 895 is indexed by the raw id
itself (its entry 0 must be 0). Every value must lie in 0..40.

Written under OUT_DIR (files are named by the 0-based sample index)::

    images/0000.png    RGB (8-bit PNG; cv2/mmcv read it back as BGR)
    depths/0000.png    uint16 millimetres (--depth-format png16, default)
    depths/0000.npy    float32 metres (--depth-format npy, lossless)
    labels/0000.png    uint8, 0 = void, 1..40 = the 40 classes
    metadata/NYU-Depth-V2_indices.csv   the 20 release split permutations
    splits/standard_train.txt, standard_test.txt   (with --splits-mat)
    meta.json          N, H, W, per-channel RGB min/max over the set, ...

The conversion streams one sample at a time (no whole-set arrays); meta.json
is written last, so its presence marks a complete conversion.
"""
import argparse
import json
import os
import os.path as osp
import time
from typing import Callable, Dict, Optional, Tuple

import numpy as np

from mstkd.datasets.splits import (NUM_GROUPS, make_permutations,
                                   write_permutation_csv)
from mstkd.utils.cli import run_tool
from mstkd.utils.errors import DataNotFoundError, UserInputError

NAME = 'NYU-Depth-V2'
NUM_CLASSES = 40
NUM_RAW_CLASSES = 894
RELEASE_LABEL_KEY = 'labels40'
STOCK_LABEL_KEY = 'labels'
IMAGE_KEY = 'images'
DEPTH_KEY = 'depths'
#: png16 depth files hold millimetres: metres = value / DEPTH_PNG_SCALE.
DEPTH_PNG_SCALE = 1000.0
DEPTH_FORMATS = ('png16', 'npy')
CONVERTER_VERSION = 1

GET_DATA_HINT = (
    'Get the MST-Distill release file NYU-Depth-V2/NYU-Depth-V2_data.mat, or '
    'the stock NYU labelled set http://horatio.cs.nyu.edu/mit/silberman/'
    'nyu_depth_v2/nyu_depth_v2_labeled.mat together with the 894 -> 40 class '
    'mapping classMapping40.mat (Gupta et al. 2013, e.g. from '
    'https://github.com/ankurhanda/nyuv2-meta-data); see '
    'docs/nyu_depth_v2.md.')


# ---------------------------------------------------------------------------
# Inputs
# ---------------------------------------------------------------------------
def _require_h5py():
    try:
        import h5py
    except ImportError as e:  # pragma: no cover - h5py is a requirement
        raise UserInputError(
            'reading NYU-Depth-V2 .mat files (HDF5) needs h5py: '
            '`pip install h5py`.') from e
    return h5py


def _load_mat_variables(path: str) -> Dict[str, np.ndarray]:
    """All numeric arrays of a MATLAB file (v7.3 through h5py, v4-v7 through
    scipy), squeezed; v7.3 arrays are transposed back to MATLAB order."""
    h5py = _require_h5py()
    if h5py.is_hdf5(path):
        out = {}
        with h5py.File(path, 'r') as f:
            for key, value in f.items():
                if isinstance(value, h5py.Dataset) and \
                        value.dtype.kind in 'biuf':
                    out[key] = np.asarray(value[()]).T
        return out
    try:
        from scipy.io import loadmat
    except ImportError as e:
        raise UserInputError(
            f'{path} is a MATLAB v5 file; reading it needs scipy '
            '(`pip install scipy`), or save it as .npy / text.') from e
    try:
        raw = loadmat(path)
    except Exception as e:  # scipy raises several types for a bad file
        raise UserInputError(f'cannot read {path} as a MATLAB file: {e}')
    return {
        k: v
        for k, v in raw.items()
        if not k.startswith('__') and isinstance(v, np.ndarray)
        and v.dtype.kind in 'biuf'
    }


def load_class_mapping(path: str,
                       num_raw: int = NUM_RAW_CLASSES,
                       num_classes: int = NUM_CLASSES) -> np.ndarray:
    """Read a raw-class -> 40-class table as a lookup array.

    Args:
        path (str): ``.mat`` (variable ``mapClass`` or one numeric vector),
            ``.npy`` (1-D table) or text (one integer per line, or
            ``raw_id new_id`` pairs). See the module docstring.
        num_raw (int): Number of raw classes (894 for NYU-Depth-V2).
        num_classes (int): Largest target class (40).

    Returns:
        np.ndarray: ``lut`` of dtype uint8 and length ``>= num_raw + 1``;
        ``lut[raw_id]`` is the target class, ``lut[0] == 0`` (void).

    Raises:
        DataNotFoundError: The file does not exist.
        UserInputError: The file has no usable table.
    """
    if not osp.isfile(path):
        raise DataNotFoundError(f'mapping file not found: {path}. '
                                + GET_DATA_HINT)
    ext = osp.splitext(path)[1].lower()
    pairs = None
    if ext == '.mat':
        variables = _load_mat_variables(path)
        if 'mapClass' in variables:
            table = variables['mapClass']
        else:
            vectors = {k: v for k, v in variables.items()
                       if np.squeeze(v).ndim == 1}
            if len(vectors) != 1:
                raise UserInputError(
                    f'{path} has no variable "mapClass" and not exactly one '
                    f'numeric vector (found: {sorted(variables)}). Expected '
                    'Gupta et al.\'s classMapping40.mat (mapClass: 1x894).')
            table = next(iter(vectors.values()))
    elif ext == '.npy':
        try:
            table = np.load(path, allow_pickle=False)
        except (ValueError, OSError, EOFError) as e:
            raise UserInputError(
                f'{path} is not a readable .npy array of numbers ({e}).'
            ) from e
    else:
        try:
            with open(path) as fh:
                rows = [line.replace(',', ' ').split() for line in fh]
            rows = [r for r in rows if r and not r[0].startswith('#')]
            values = np.array([[float(x) for x in r] for r in rows])
        except ValueError as e:
            raise UserInputError(
                f'{path}: expected one integer per line or "raw_id new_id" '
                f'pairs ({e}).')
        if values.ndim == 2 and values.shape[1] == 2:
            pairs = values
            table = None
        elif values.ndim == 2 and values.shape[1] == 1:
            table = values[:, 0]
        else:
            raise UserInputError(
                f'{path}: expected one integer per line or "raw_id new_id" '
                'pairs on every line.')

    if pairs is not None:
        raw_ids, new_ids = pairs[:, 0], pairs[:, 1]
        _check_integral(path, pairs)
        if raw_ids.min() < 0:
            raise UserInputError(f'{path}: negative raw class id.')
        lut = np.zeros(max(int(raw_ids.max()), num_raw) + 1, np.int64)
        lut[raw_ids.astype(np.int64)] = new_ids.astype(np.int64)
        if lut[0] != 0:
            raise UserInputError(f'{path}: raw class 0 (unlabelled) must map '
                                 'to 0 (void).')
    else:
        table = np.squeeze(np.asarray(table))
        if table.ndim != 1:
            raise UserInputError(
                f'{path}: the mapping must be a vector, got shape '
                f'{table.shape}.')
        _check_integral(path, table)
        table = table.astype(np.int64)
        if len(table) == num_raw:
            lut = np.concatenate([[0], table])
        elif len(table) == num_raw + 1:
            if table[0] != 0:
                raise UserInputError(
                    f'{path}: a table of {num_raw + 1} entries is indexed by '
                    'the raw id, so its entry 0 (unlabelled) must be 0.')
            lut = table
        else:
            raise UserInputError(
                f'{path}: the table has {len(table)} entries; expected '
                f'{num_raw} (raw ids 1..{num_raw}) or {num_raw + 1} (indexed '
                'by raw id, entry 0 = 0).')
    if lut.min() < 0 or lut.max() > num_classes:
        raise UserInputError(
            f'{path}: mapped classes must lie in 0..{num_classes}, found '
            f'{lut.min()}..{lut.max()}.')
    return lut.astype(np.uint8)


def _check_integral(path: str, values: np.ndarray) -> None:
    if not np.all(np.isfinite(values)) or \
            not np.array_equal(values, np.round(values)):
        raise UserInputError(f'{path}: the mapping holds non-integer values.')


def load_standard_splits(path: str,
                         num_samples: int) -> Tuple[np.ndarray, np.ndarray]:
    """Read the standard ``splits.mat`` (``trainNdxs``/``testNdxs``, 1-based).

    Args:
        path (str): ``splits.mat`` (MATLAB v5 or v7.3).
        num_samples (int): N of the converted set (indices must be 1..N).

    Returns:
        tuple[np.ndarray, np.ndarray]: 0-based train and test indices.
    """
    if not osp.isfile(path):
        raise DataNotFoundError(
            f'splits file not found: {path}. The standard 795/654 split is '
            'http://horatio.cs.nyu.edu/mit/silberman/indoor_seg_sup/'
            'splits.mat (variables trainNdxs, testNdxs).')
    variables = _load_mat_variables(path)
    missing = [k for k in ('trainNdxs', 'testNdxs') if k not in variables]
    if missing:
        raise UserInputError(
            f'{path} lacks {missing} (found: {sorted(variables)}); expected '
            'the NYU splits.mat with trainNdxs and testNdxs (1-based).')
    out = []
    for key in ('trainNdxs', 'testNdxs'):
        idx = np.asarray(variables[key]).reshape(-1)
        if not np.array_equal(idx, np.round(idx)) or idx.min() < 1 or \
                idx.max() > num_samples:
            raise UserInputError(
                f'{path}:{key} must hold 1-based sample indices in '
                f'1..{num_samples}, found {idx.min()}..{idx.max()}.')
        out.append(idx.astype(np.int64) - 1)
    if np.intersect1d(out[0], out[1]).size:
        raise UserInputError(f'{path}: trainNdxs and testNdxs overlap.')
    return out[0], out[1]


def open_nyu_mat(path: str, mapping: Optional[str] = None):
    """Open and validate a NYU-Depth-V2 .mat file.

    Args:
        path (str): The .mat file.
        mapping (str, optional): The ``--mapping`` argument.

    Returns:
        tuple: ``(h5py.File, label_key, kind)`` with kind ``'release'``
        (``labels40``) or ``'stock'`` (``labels`` + mapping).
    """
    if not osp.isfile(path):
        raise DataNotFoundError(f'NYU-Depth-V2 file not found: {path}. '
                                + GET_DATA_HINT)
    h5py = _require_h5py()
    if not h5py.is_hdf5(path):
        raise UserInputError(
            f'{path} is not an HDF5 file (MATLAB v7.3 format). Both the '
            'release NYU-Depth-V2_data.mat and the stock '
            'nyu_depth_v2_labeled.mat are v7.3; a file saved by MATLAB with '
            'an older format can be re-saved with save(FILE, ..., \'-v7.3\').')
    f = h5py.File(path, 'r')
    found = sorted(f.keys())
    expected = (f'{IMAGE_KEY} [N,3,W,H] uint8, {DEPTH_KEY} [N,W,H] float, and '
                f'{RELEASE_LABEL_KEY} [N,W,H] (release file) or '
                f'{STOCK_LABEL_KEY} [N,W,H] + --mapping (stock file)')
    if mapping is not None and STOCK_LABEL_KEY in f:
        label_key, kind = STOCK_LABEL_KEY, 'stock'
    elif mapping is not None:
        f.close()
        raise UserInputError(
            f'--mapping was given but {path} has no raw "{STOCK_LABEL_KEY}" '
            f'dataset to map (datasets found: {found}). The release file '
            f'already holds the 40-class "{RELEASE_LABEL_KEY}": drop '
            '--mapping.')
    elif RELEASE_LABEL_KEY in f:
        label_key, kind = RELEASE_LABEL_KEY, 'release'
    elif STOCK_LABEL_KEY in f:
        f.close()
        raise UserInputError(
            f'{path} is the stock labelled set: its "{STOCK_LABEL_KEY}" hold '
            f'the {NUM_RAW_CLASSES} raw classes and need the 894 -> 40 '
            'mapping of Gupta et al. Pass it with --mapping '
            'classMapping40.mat (e.g. from '
            'https://github.com/ankurhanda/nyuv2-meta-data).')
    else:
        f.close()
        raise UserInputError(
            f'{path} has no label dataset. Found: {found}; expected '
            f'{expected}.')
    missing = [k for k in (IMAGE_KEY, DEPTH_KEY) if k not in f]
    if missing:
        f.close()
        raise UserInputError(f'{path} lacks {missing}. Found: {found}; '
                             f'expected {expected}.')
    images, depths, labels = f[IMAGE_KEY], f[DEPTH_KEY], f[label_key]
    ok = (images.ndim == 4 and images.shape[1] == 3 and depths.ndim == 3
          and depths.shape[0] == images.shape[0]
          and depths.shape[1:] == images.shape[2:]
          and labels.shape == depths.shape)
    if not ok:
        f.close()
        raise UserInputError(
            f'{path}: unexpected shapes {IMAGE_KEY}{images.shape}, '
            f'{DEPTH_KEY}{depths.shape}, {label_key}{labels.shape}; expected '
            f'{expected} (the MATLAB arrays H x W x 3 x N, H x W x N as '
            'stored by HDF5).')
    return f, label_key, kind


# ---------------------------------------------------------------------------
# Per-sample conversion
# ---------------------------------------------------------------------------
def _to_hwc_rgb(raw: np.ndarray, path: str, i: int) -> np.ndarray:
    """[3,W,H] (HDF5 order) -> [H,W,3] uint8 RGB."""
    img = np.ascontiguousarray(np.transpose(raw, (2, 1, 0)))
    if img.dtype != np.uint8:
        if not np.array_equal(img, np.round(img)) or img.min() < 0 or \
                img.max() > 255:
            raise UserInputError(
                f'{path}: {IMAGE_KEY}[{i}] is {raw.dtype} with values outside '
                'the integers 0..255; expected uint8 RGB.')
        img = img.astype(np.uint8)
    return img


def _to_hw_labels(raw: np.ndarray, lut: Optional[np.ndarray], key: str,
                  path: str, i: int) -> np.ndarray:
    """[W,H] (HDF5 order) -> [H,W] uint8 in 0..40."""
    lab = raw.T
    if lab.dtype.kind == 'f':
        if not np.all(np.isfinite(lab)) or \
                not np.array_equal(lab, np.round(lab)):
            raise UserInputError(f'{path}: {key}[{i}] holds non-integer '
                                 'labels.')
    lo, hi = lab.min(), lab.max()
    top = NUM_CLASSES if lut is None else len(lut) - 1
    if lo < 0 or hi > top:
        what = ('40-class labels 0..40 (0 = void)' if lut is None else
                f'raw classes 0..{top} covered by the mapping')
        raise UserInputError(
            f'{path}: {key}[{i}] has labels {lo}..{hi} out of range; expected '
            f'{what}.')
    if lut is not None:
        return lut[lab.astype(np.int64)]
    return np.ascontiguousarray(lab, dtype=np.uint8)


def _to_hw_depth(raw: np.ndarray, path: str, i: int) -> np.ndarray:
    """[W,H] (HDF5 order) -> [H,W] float32 metres."""
    depth = np.ascontiguousarray(raw.T.astype(np.float32))
    if not np.all(np.isfinite(depth)) or depth.min() < 0:
        raise UserInputError(
            f'{path}: {DEPTH_KEY}[{i}] holds negative or non-finite values; '
            'expected depth in metres (the in-painted "depths", not '
            '"rawDepths" with holes).')
    return depth


def _write_png(path: str, array: np.ndarray) -> None:
    import cv2
    if not cv2.imwrite(path, array):
        raise OSError(f'could not write {path}')


def convert_nyu_depth_v2(mat_file: str,
                         out_dir: str,
                         mapping: Optional[str] = None,
                         splits_mat: Optional[str] = None,
                         depth_format: str = 'png16',
                         log: Callable[[str], None] = print) -> dict:
    """Convert a NYU-Depth-V2 .mat file; see the module docstring.

    Args:
        mat_file (str): ``NYU-Depth-V2_data.mat`` or
            ``nyu_depth_v2_labeled.mat``.
        out_dir (str): Output root (the dataset's ``data_root``).
        mapping (str, optional): 894 -> 40 table (stock file only).
        splits_mat (str, optional): The standard ``splits.mat``.
        depth_format (str): ``'png16'`` (uint16 mm) or ``'npy'`` (float32 m).
        log (callable): Progress printer.

    Returns:
        dict: The content written to ``meta.json``.
    """
    if depth_format not in DEPTH_FORMATS:
        raise UserInputError(f'--depth-format must be one of {DEPTH_FORMATS}, '
                             f'got "{depth_format}".')
    lut = load_class_mapping(mapping) if mapping is not None else None
    f, label_key, kind = open_nyu_mat(mat_file, mapping)
    with f:
        images, depths, labels = f[IMAGE_KEY], f[DEPTH_KEY], f[label_key]
        n, _, width, height = images.shape
        standard = (load_standard_splits(splits_mat, n)
                    if splits_mat is not None else None)
        dirs = {k: osp.join(out_dir, k) for k in
                ('images', 'depths', 'labels', 'metadata')}
        for d in dirs.values():
            os.makedirs(d, exist_ok=True)
        meta_path = osp.join(out_dir, 'meta.json')
        if osp.exists(meta_path):
            os.remove(meta_path)  # re-written last: marks completeness

        rgb_min = np.full(3, 255, np.int64)
        rgb_max = np.zeros(3, np.int64)
        depth_lo, depth_hi = np.inf, -np.inf
        counts = np.zeros(NUM_CLASSES + 1, np.int64)
        start = time.time()
        for i in range(n):
            img = _to_hwc_rgb(images[i], mat_file, i)
            depth = _to_hw_depth(depths[i], mat_file, i)
            lab = _to_hw_labels(labels[i], lut, label_key, mat_file, i)
            flat = img.reshape(-1, 3)
            rgb_min = np.minimum(rgb_min, flat.min(0))
            rgb_max = np.maximum(rgb_max, flat.max(0))
            depth_lo = min(depth_lo, float(depth.min()))
            depth_hi = max(depth_hi, float(depth.max()))
            counts += np.bincount(lab.reshape(-1), minlength=NUM_CLASSES + 1)

            stem = f'{i:04d}'
            _write_png(osp.join(dirs['images'], stem + '.png'),
                       np.ascontiguousarray(img[..., ::-1]))  # cv2: BGR
            if depth_format == 'png16':
                mm = np.round(depth * DEPTH_PNG_SCALE)
                if mm.max() > np.iinfo(np.uint16).max:
                    raise UserInputError(
                        f'{mat_file}: {DEPTH_KEY}[{i}] reaches '
                        f'{depth.max():.1f} m, beyond what uint16 '
                        'millimetres hold (65.535 m); use --depth-format '
                        'npy.')
                _write_png(osp.join(dirs['depths'], stem + '.png'),
                           mm.astype(np.uint16))
            else:
                np.save(osp.join(dirs['depths'], stem + '.npy'), depth)
            _write_png(osp.join(dirs['labels'], stem + '.png'), lab)
            if (i + 1) % 100 == 0 or i + 1 == n:
                log(f'[{i + 1}/{n}] {time.time() - start:.0f}s')

    write_permutation_csv(
        osp.join(dirs['metadata'], f'{NAME}_indices.csv'),
        make_permutations(n, NUM_GROUPS))
    if standard is not None:
        os.makedirs(osp.join(out_dir, 'splits'), exist_ok=True)
        for name, idx in zip(('train', 'test'), standard):
            with open(osp.join(out_dir, 'splits', f'standard_{name}.txt'),
                      'w') as fh:
                fh.write(''.join(f'{j:04d}\n' for j in idx))

    meta = dict(
        dataset=NAME,
        converter_version=CONVERTER_VERSION,
        num_samples=int(n),
        height=int(height),
        width=int(width),
        num_classes=NUM_CLASSES,
        rgb_min=rgb_min.tolist(),
        rgb_max=rgb_max.tolist(),
        depth_format=depth_format,
        depth_scale=DEPTH_PNG_SCALE if depth_format == 'png16' else 1.0,
        depth_min_m=depth_lo,
        depth_max_m=depth_hi,
        label_pixel_counts=counts.tolist(),
        source=osp.abspath(mat_file),
        source_kind=kind,
        label_key=label_key,
        mapping=osp.abspath(mapping) if mapping else None,
        splits_mat=osp.abspath(splits_mat) if splits_mat else None)
    with open(osp.join(out_dir, 'meta.json'), 'w') as fh:
        json.dump(meta, fh, indent=2)
    log(f'wrote {n} samples ({height}x{width}) to {out_dir}')
    return meta


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Convert NYU-Depth-V2 (.mat, HDF5) into images/, '
        'depths/, labels/ + split files for mstkd.')
    parser.add_argument('mat_file', help='NYU-Depth-V2_data.mat (release) or '
                        'nyu_depth_v2_labeled.mat (stock, needs --mapping)')
    parser.add_argument('-o', '--out-dir', required=True,
                        help='output folder = the dataset data_root')
    parser.add_argument('--mapping', help='894 -> 40 class table for the '
                        'stock file (classMapping40.mat with mapClass, .npy '
                        'or text)')
    parser.add_argument('--splits-mat', help='standard splits.mat '
                        '(trainNdxs/testNdxs) -> splits/standard_*.txt')
    parser.add_argument('--depth-format', choices=DEPTH_FORMATS,
                        default='png16', help='png16: uint16 millimetres '
                        '(default); npy: float32 metres')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    convert_nyu_depth_v2(args.mat_file, args.out_dir, args.mapping,
                         args.splits_mat, args.depth_format)


if __name__ == '__main__':
    run_tool(main)
