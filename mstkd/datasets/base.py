"""A base class for paired multimodal classification datasets, and the
building blocks that let a modality be served item by item (lazily) instead
of being materialised as one tensor.

Eager modalities are float32 tensors ``[N_split, ...]`` held in memory (what
AV-Digits, AV-MNIST and CrisisMMD use). Lazy modalities are a
:class:`LazySource` (e.g. :class:`MemmapSource`: one row of a memory-mapped
``.npy`` file + a per-item normalise function, or :class:`NpyFilesSource`:
one ``.npy`` file per sample) wrapped in a :class:`SplitView`, so a 13 GB
video set or 50k feature files are never loaded whole.

The ``.npy`` helpers (:func:`npy_info`, :func:`iter_npy_chunks`,
:func:`gather_npy_rows`) read a file chunk by chunk with plain file reads:
unlike slicing a memory map, this keeps the resident memory (ru_maxrss) at one
chunk, since the file pages are never mapped into the process.
"""
import copy
import os
import os.path as osp
from typing import (Callable, Dict, Iterator, List, Optional, Sequence, Tuple,
                    Union)

import numpy as np
import torch
from torch.utils.data import Dataset

from mstkd.utils.errors import DataNotFoundError, UserInputError
from .splits import get_permutation, split_indices

ItemTransform = Callable[[np.ndarray], torch.Tensor]

# -- normalisation -----------------------------------------------------------


def minmax_per_sample(x: torch.Tensor, eps: float = 1e-12) -> torch.Tensor:
    """Min-max normalise every sample (dim 0) to [0, 1], in float32.

    Works in place on float32 input to avoid whole-set temporaries. A
    constant sample becomes all zeros (the reference release divides by zero
    there and gets NaN).
    """
    x = (x.float() if x.dtype != torch.float32 else x).contiguous()
    flat = x.view(x.shape[0], -1)
    lo = flat.min(dim=1, keepdim=True).values
    hi = flat.max(dim=1, keepdim=True).values
    flat.sub_(lo).div_((hi - lo).clamp_min(eps))
    return x


def minmax_item(x: np.ndarray, eps: float = 1e-12) -> torch.Tensor:
    """Min-max normalise ONE sample to [0, 1] in float32 (a per-item
    transform; the same numbers as :func:`minmax_per_sample` on a batch)."""
    return minmax_per_sample(
        torch.from_numpy(np.array(x, dtype=np.float32))[None], eps)[0]


# -- .npy helpers -------------------------------------------------------------


def npy_info(path: str, layout: str = '') -> Tuple[tuple, np.dtype]:
    """Shape and dtype of a ``.npy`` file, reading its header only.

    Args:
        path (str): The file.
        layout (str): The expected folder tree, quoted in error messages.

    Returns:
        tuple: ``(shape, dtype)``.

    Raises:
        DataNotFoundError: The file does not exist.
        UserInputError: It is not a readable ``.npy`` array of plain numbers.
    """
    if not osp.isfile(path):
        raise DataNotFoundError(f'File not found: {path}' +
                                layout_hint(layout))
    try:
        arr = np.load(path, mmap_mode='r', allow_pickle=False)
    except (ValueError, OSError, EOFError) as err:
        raise UserInputError(f'{path} is not a readable .npy array of numbers '
                             f'({err}).' + layout_hint(layout)) from err
    shape, dtype = tuple(arr.shape), arr.dtype
    del arr
    return shape, dtype


def layout_hint(layout: str) -> str:
    """``'\nExpected layout:\n{layout}'`` to end an error message with, or
    ``''`` when there is no layout to show.

    Args:
        layout (str): The expected folder tree.

    Returns:
        str: The hint.
    """
    return f'\nExpected layout:\n{layout}' if layout else ''


def check_npy(path: str,
              shape: Sequence[Optional[int]],
              kinds: str = 'fiu',
              layout: str = '',
              what: str = 'array') -> tuple:
    """Check a ``.npy`` file's shape and dtype kind (header only).

    Args:
        path (str): The file.
        shape (Sequence[int | None]): Expected shape; ``None`` = any size.
        kinds (str): Accepted ``dtype.kind`` letters ('f' float, 'i' int,
            'u' unsigned int, 'b' bool).
        layout (str): The expected folder tree, quoted in error messages.
        what (str): What the array holds, for messages.

    Returns:
        tuple: The actual shape.
    """
    actual, dtype = npy_info(path, layout)
    shown = '[' + ', '.join('*' if s is None else str(s) for s in shape) + ']'
    if len(actual) != len(shape) or any(s is not None and s != a
                                        for s, a in zip(shape, actual)):
        raise UserInputError(
            f'{path}: {what} has shape {list(actual)}, expected {shown}.' +
            layout_hint(layout))
    if dtype.kind not in kinds:
        raise UserInputError(
            f'{path}: {what} has dtype {dtype}, expected a dtype of kind '
            f'{kinds!r} (f=float, i/u=integer).' + layout_hint(layout))
    return actual


def iter_npy_chunks(path: str,
                    chunk_rows: int = 1024
                    ) -> Iterator[Tuple[int, np.ndarray]]:
    """Yield ``(start_row, rows)`` of a ``.npy`` file, ``chunk_rows`` rows
    at a time, in the file's dtype.

    C-ordered files are read with ``readinto`` into one reused buffer (the
    yielded array is overwritten by the next chunk: copy what you keep);
    Fortran-ordered ones fall back to slicing a memory map.
    """
    arr = np.load(path, mmap_mode='r', allow_pickle=False)
    shape, dtype, offset = arr.shape, arr.dtype, arr.offset
    fortran = arr.ndim > 1 and not arr.flags.c_contiguous
    if fortran:
        for start in range(0, shape[0], chunk_rows):
            yield start, np.ascontiguousarray(arr[start:start + chunk_rows])
        return
    del arr
    row_bytes = int(np.prod(shape[1:], dtype=np.int64)) * dtype.itemsize
    buf = np.empty((min(chunk_rows, shape[0]), ) + tuple(shape[1:]), dtype)
    with open(path, 'rb') as f:
        f.seek(offset)
        for start in range(0, shape[0], chunk_rows):
            rows = buf[:min(chunk_rows, shape[0] - start)]
            view = memoryview(rows.reshape(-1).view(np.uint8))
            got = f.readinto(view)
            if got != len(rows) * row_bytes:
                raise UserInputError(f'{path} is truncated: expected '
                                     f'{shape[0]} rows of {row_bytes} bytes.')
            yield start, rows


def gather_npy_rows(path: str,
                    rows: np.ndarray,
                    out: torch.Tensor,
                    transform: Optional[Callable[[torch.Tensor],
                                                 torch.Tensor]] = None,
                    chunk_rows: int = 1024,
                    positions: Optional[np.ndarray] = None) -> torch.Tensor:
    """Copy ``file[rows[k]]`` (as float32, through ``transform``) into
    ``out[positions[k]]``, reading the file chunk by chunk.

    Memory: ``out`` plus one chunk (no whole-file or float64 temporaries).

    Args:
        path (str): A ``.npy`` file ``[N, ...]``.
        rows (np.ndarray): Row indices into the file, any order.
        out (torch.Tensor): float32 tensor to fill; each row of it takes one
            file row (same number of elements, any shape).
        transform (Callable, optional): Applied to each float32 chunk of
            picked rows ``[k, ...]`` (e.g. :func:`minmax_per_sample`).
        chunk_rows (int): Rows read at a time.
        positions (np.ndarray, optional): Rows of ``out`` to fill; defaults
            to ``0 .. len(rows) - 1``.

    Returns:
        torch.Tensor: ``out``.
    """
    rows = np.asarray(rows, dtype=np.int64)
    positions = np.arange(len(rows)) if positions is None else np.asarray(
        positions, dtype=np.int64)
    order = np.argsort(rows, kind='stable')
    sorted_rows, sorted_pos = rows[order], torch.from_numpy(positions[order])
    flat_out = out.view(out.shape[0], -1)
    for start, chunk in iter_npy_chunks(path, chunk_rows):
        lo = np.searchsorted(sorted_rows, start, 'left')
        hi = np.searchsorted(sorted_rows, start + len(chunk), 'left')
        if lo == hi:
            continue
        picked = torch.from_numpy(chunk[sorted_rows[lo:hi] - start].astype(
            np.float32, copy=False))
        if transform is not None:
            picked = transform(picked)
        flat_out.index_copy_(0, sorted_pos[lo:hi], picked.reshape(hi - lo, -1))
    return out


# -- lazy modalities ----------------------------------------------------------


class LazySource:
    """A modality of the whole set served one item at a time.

    Subclasses implement :meth:`load` (dataset-wide index -> tensor) and
    ``__len__``. They must stay cheap to pickle (DataLoader workers under the
    spawn start method receive the dataset by pickling).
    """

    def __len__(self) -> int:
        raise NotImplementedError

    def load(self, index: int) -> torch.Tensor:
        raise NotImplementedError


class MemmapSource(LazySource):
    """Rows of a ``.npy`` file read through ``np.load(mmap_mode='r')``.

    Only the rows that are asked for are read; the memory map is opened on
    first use (also after unpickling: it is never pickled).

    Args:
        path (str): The ``.npy`` file ``[N, ...]``.
        transform (Callable, optional): ``row (np.ndarray) -> tensor``;
            defaults to a float32 copy.
    """

    def __init__(self, path: str, transform: Optional[ItemTransform] = None):
        self.path = path
        self.transform = transform
        self._array = None

    @property
    def array(self) -> np.memmap:
        """The memory-mapped array (opened on first use)."""
        if self._array is None:
            self._array = np.load(self.path, mmap_mode='r', allow_pickle=False)
        return self._array

    def __len__(self) -> int:
        return int(self.array.shape[0])

    def load(self, index: int) -> torch.Tensor:
        row = self.array[index]
        if self.transform is None:
            return torch.from_numpy(np.array(row, dtype=np.float32))
        return self.transform(row)

    def __getstate__(self):
        state = self.__dict__.copy()
        state['_array'] = None
        return state


class NpyFilesSource(LazySource):
    """One ``.npy`` file per sample, loaded when the item is asked for.

    Args:
        paths (Sequence[str]): One file per sample of the whole set.
        shape (Sequence[int]): The shape every file must have.
        transform (Callable, optional): ``array -> tensor``; defaults to a
            float32 copy.
        layout (str): The expected folder tree, quoted in error messages.
    """

    def __init__(self,
                 paths: Sequence[str],
                 shape: Sequence[int],
                 transform: Optional[ItemTransform] = None,
                 layout: str = ''):
        self.paths = list(paths)
        self.shape = tuple(shape)
        self.transform = transform
        self.layout = layout

    def __len__(self) -> int:
        return len(self.paths)

    def load(self, index: int) -> torch.Tensor:
        path = self.paths[index]
        try:
            arr = np.load(path, allow_pickle=False)
        except FileNotFoundError as err:
            raise DataNotFoundError(f'File not found: {path}' +
                                    layout_hint(self.layout)) from err
        except (ValueError, OSError, EOFError) as err:
            raise UserInputError(f'{path} is not a readable .npy array '
                                 f'({err}).' +
                                 layout_hint(self.layout)) from err
        if arr.shape != self.shape or arr.dtype.kind not in 'fiub':
            raise UserInputError(
                f'{path}: array of shape {list(arr.shape)} and dtype '
                f'{arr.dtype}, expected {list(self.shape)} of numbers.' +
                layout_hint(self.layout))
        if self.transform is None:
            return torch.from_numpy(np.asarray(arr, dtype=np.float32))
        return self.transform(arr)

    def missing(self, indices: Optional[Sequence[int]] = None) -> List[str]:
        """The files (of ``indices``, default all) that do not exist."""
        ids = range(len(self.paths)) if indices is None else indices
        return [self.paths[i] for i in ids if not osp.isfile(self.paths[i])]


class SplitView:
    """The rows ``indices`` of a :class:`LazySource`, indexable like the
    split's tensor would be (``view[i]`` loads ``source.load(indices[i])``).

    Args:
        source (LazySource): The whole-set source.
        indices (np.ndarray): Dataset-wide indices of the split.
    """

    def __init__(self, source: LazySource, indices: np.ndarray):
        self.source = source
        self.indices = np.asarray(indices, dtype=np.int64)

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, idx: int) -> torch.Tensor:
        return self.source.load(int(self.indices[idx]))


ModalityData = Union[torch.Tensor, SplitView]


class MultiModalClsDataset(Dataset):
    """Paired multimodal classification data under the benchmark protocol.

    A subclass loads the whole set (``load_modalities``): per modality name
    either one float32 tensor ``[N, ...]``, already normalised, or a
    :class:`LazySource` that serves (and normalises) one item at a time; and
    the labels ``[N]``. This base class applies the split protocol
    (permutation group = run seed, 60/20/20) and serves items as
    ``dict(inputs={modality: tensor}, data_samples=dict(gt_label=...,
    sample_idx=...))``, which mmengine's ``default_collate`` stacks into
    batches. ``self.data[m]`` is the split's tensor (eager) or a
    :class:`SplitView` (lazy).

    Args:
        split (str): 'train', 'val' or 'test'.
        seed (int): The run seed ``s``; selects permutation ``group_s``.
        modalities (Sequence[str], optional): Modalities to serve; defaults to
            all of ``METAINFO['modalities']``. A unimodal model's config may
            ask for its modality only.
        indices_file (str, optional): ``metadata/{NAME}_indices.csv``; used
            when it exists, else the permutation is regenerated.
        ratios (Sequence[float]): train/val/test fractions.
        metainfo (dict, optional): Overrides of ``METAINFO``.
    """

    METAINFO: dict = dict(classes=(), modalities=())

    def __init__(self,
                 split: str = 'train',
                 seed: int = 0,
                 modalities: Optional[Sequence[str]] = None,
                 indices_file: Optional[str] = None,
                 ratios: Sequence[float] = (0.6, 0.2, 0.2),
                 metainfo: Optional[dict] = None):
        self.split = split
        self.seed = seed
        self._metainfo = copy.deepcopy(self.METAINFO)
        if metainfo:
            self._metainfo.update(metainfo)
        available = tuple(self._metainfo['modalities'])
        self.modalities = tuple(modalities) if modalities else available
        unknown = [m for m in self.modalities if m not in available]
        if unknown:
            raise ValueError(f'{type(self).__name__} has no modality '
                             f'{unknown}; available: {list(available)}.')
        self.indices_file = indices_file
        self.ratios = tuple(ratios)

        data, labels = self.load_modalities()
        n = len(labels)
        try:
            perm = get_permutation(n, seed, indices_file)
        except ValueError as err:  # a bad split file or run seed
            raise UserInputError(f'{type(self).__name__} ({n} samples): '
                                 f'{err}') from err
        self.indices = split_indices(perm, split, self.ratios)
        self.data = self.select(data, labels, self.indices)
        self.labels = torch.as_tensor(np.asarray(labels)[self.indices],
                                      dtype=torch.long)

    # -- hooks for subclasses -------------------------------------------
    def load_modalities(self):
        """Return ``(dict modality -> tensor [N, ...] | LazySource,
        labels [N])``."""
        raise NotImplementedError

    def select(self, data: Dict[str, Union[torch.Tensor, LazySource]], labels,
               indices: np.ndarray) -> Dict[str, ModalityData]:
        """Rows of the split: tensors are indexed, lazy sources wrapped in a
        :class:`SplitView`. Subclasses may pair modalities per split."""
        index = torch.as_tensor(indices)
        out = {}
        for m in self.modalities:
            if isinstance(data[m], LazySource):
                out[m] = SplitView(data[m], indices)
            else:
                out[m] = data[m][index]
        return out

    def sample_extras(self, idx: int) -> dict:
        """Extra ``data_samples`` fields of item ``idx`` (none by default)."""
        return {}

    # -- mmengine / torch dataset API ------------------------------------
    @property
    def metainfo(self) -> dict:
        return copy.deepcopy(self._metainfo)

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, idx: int) -> dict:
        data_samples = dict(gt_label=self.labels[idx],
                            sample_idx=int(self.indices[idx]))
        data_samples.update(self.sample_extras(idx))
        return dict(inputs={m: self.data[m][idx]
                            for m in self.modalities},
                    data_samples=data_samples)

    def class_counts(self) -> List[int]:
        num_classes = len(self._metainfo['classes'])
        return torch.bincount(self.labels, minlength=num_classes).tolist()


def check_labels(labels: np.ndarray,
                 num_classes: int,
                 path: str,
                 layout: str = '') -> np.ndarray:
    """Labels as int64 ``[N]`` in ``[0, num_classes)``, or a clear error.

    Integral floats are accepted (and converted), as the release casts
    labels with ``torch.tensor(..., dtype=torch.long)``.
    """
    labels = np.asarray(labels)
    if labels.ndim != 1:
        raise UserInputError(f'{path}: labels have shape {list(labels.shape)}'
                             ', expected [N].' + layout_hint(layout))
    if labels.dtype.kind == 'f':
        if not np.all(np.isfinite(labels)) or np.any(
                labels != np.round(labels)):
            raise UserInputError(f'{path}: labels are not whole numbers.' +
                                 layout_hint(layout))
    elif labels.dtype.kind not in 'iu':
        raise UserInputError(f'{path}: labels have dtype {labels.dtype}, '
                             'expected integers.' + layout_hint(layout))
    labels = labels.astype(np.int64)
    if len(labels) and (labels.min() < 0 or labels.max() >= num_classes):
        raise UserInputError(
            f'{path}: labels span [{labels.min()}, {labels.max()}], expected '
            f'0 .. {num_classes - 1} ({num_classes} classes).' +
            layout_hint(layout))
    return labels


def require_dir(path: str, layout: str, what: str) -> None:
    """Raise :class:`DataNotFoundError` (with the layout) if ``path`` is
    not a folder."""
    if not osp.isdir(path):
        raise DataNotFoundError(
            f'{what} not found: {path} (data_root must be the release folder '
            f'itself).' + layout_hint(layout))


def require_files(paths: Sequence[str],
                  layout: str,
                  what: str,
                  note: str = '') -> None:
    """Raise :class:`DataNotFoundError` naming every path of ``paths`` that
    is not a file, with the layout (and ``note``, e.g. where the files come
    from).

    Args:
        paths (Sequence[str]): The files needed.
        layout (str): The expected folder tree.
        what (str): What the files are, e.g. ``'RAVDESS files'``.
        note (str): A last line of the message, if any.
    """
    missing = [p for p in paths if not osp.isfile(p)]
    if missing:
        raise DataNotFoundError(f'{what} not found: ' + ', '.join(missing) +
                                layout_hint(layout) +
                                (f'\n{note}' if note else ''))


def file_key(path: str) -> tuple:
    """Identity of a file's content for in-process caches."""
    st = os.stat(path)
    return osp.realpath(path), st.st_size, st.st_mtime_ns
