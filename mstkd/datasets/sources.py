"""Lazy modalities: a modality of the whole set served item by item instead
of being materialised as one tensor.

A :class:`LazySource` (e.g. :class:`MemmapSource`: one row of a
memory-mapped ``.npy`` file + a per-item normalise function, or
:class:`NpyFilesSource`: one ``.npy`` file per sample) is wrapped in a
:class:`SplitView` for a split, so a 13 GB video set or 50k feature files are
never loaded whole.
"""
import os.path as osp
from typing import Callable, List, Optional, Sequence

import numpy as np
import torch

from mstkd.utils.errors import DataNotFoundError, UserInputError
from .file_checks import first_nonfinite, layout_hint, nonfinite_error

ItemTransform = Callable[[np.ndarray], torch.Tensor]


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
        what (str, optional): The modality; when given, each row served is
            checked for NaN/Inf (naming the file, ``what`` and the row).
    """

    def __init__(self, path: str, transform: Optional[ItemTransform] = None,
                 what: Optional[str] = None):
        self.path = path
        self.transform = transform
        self.what = what
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
        if self.what is not None and first_nonfinite(row[None]) is not None:
            raise nonfinite_error(self.path, self.what, index)
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
        what (str, optional): The modality; when given, each file loaded is
            checked for NaN/Inf (naming the file, ``what`` and the position
            of the first bad value in it).
    """

    def __init__(self,
                 paths: Sequence[str],
                 shape: Sequence[int],
                 transform: Optional[ItemTransform] = None,
                 layout: str = '',
                 what: Optional[str] = None):
        self.paths = list(paths)
        self.shape = tuple(shape)
        self.transform = transform
        self.layout = layout
        self.what = what

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
        if self.what is not None and first_nonfinite(arr[None]) is not None:
            # one sample per file: the position of the first bad value
            first = np.argwhere(~np.isfinite(arr))[0]
            raise nonfinite_error(path, self.what, tuple(first))
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
