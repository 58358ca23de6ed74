"""Reading ``.npy`` files: header checks and chunked reads.

:func:`npy_info` and :func:`check_npy` read the header only.
:func:`iter_npy_chunks` and :func:`gather_npy_rows` read a file chunk by
chunk with plain file reads: unlike slicing a memory map, this keeps the
resident memory (ru_maxrss) at one chunk, since the file pages are never
mapped into the process.
"""
import os.path as osp
from typing import Callable, Iterator, Optional, Sequence, Tuple

import numpy as np
import torch

from mstkd.utils.errors import DataNotFoundError, UserInputError
from .file_checks import check_finite, layout_hint


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
                    positions: Optional[np.ndarray] = None,
                    what: Optional[str] = None) -> torch.Tensor:
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
        what (str, optional): The modality; when given, the picked rows are
            checked for NaN/Inf (before ``transform``) and the first bad
            one fails, naming ``path``, ``what`` and its row in the file.

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
        if what is not None:
            check_finite(picked.numpy(), path, what, rows=sorted_rows[lo:hi])
        if transform is not None:
            picked = transform(picked)
        flat_out.index_copy_(0, sorted_pos[lo:hi], picked.reshape(hi - lo, -1))
    return out
