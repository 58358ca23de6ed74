"""Checks of dataset files and folders against their expected layout (with
the layout quoted in the error), and file identity for in-process caches."""
import os
import os.path as osp
from typing import Optional, Sequence

import numpy as np

from mstkd.utils.errors import DataNotFoundError, UserInputError


def layout_hint(layout: str) -> str:
    """``'\nExpected layout:\n{layout}'`` to end an error message with, or
    ``''`` when there is no layout to show.

    Args:
        layout (str): The expected folder tree.

    Returns:
        str: The hint.
    """
    return f'\nExpected layout:\n{layout}' if layout else ''


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
        first = int(np.flatnonzero((labels < 0) | (labels >= num_classes))[0])
        raise UserInputError(
            f'{path}: labels span [{labels.min()}, {labels.max()}], expected '
            f'0 .. {num_classes - 1} ({num_classes} classes); the first bad '
            f'one is at index {first} ({labels[first]}).' +
            layout_hint(layout))
    return labels


def first_nonfinite(array: np.ndarray) -> Optional[int]:
    """Position of the first sample (row) of ``array`` holding NaN/Inf, or
    ``None`` when every value is finite (or the dtype is not a float)."""
    array = np.asarray(array)
    if array.dtype.kind not in 'fc' or not array.size:
        return None
    flat = array.reshape(len(array), -1) if array.ndim > 1 else \
        array.reshape(-1, 1)
    finite = np.isfinite(flat).all(1)
    return None if finite.all() else int(np.flatnonzero(~finite)[0])


def nonfinite_error(path: str, what: str, index) -> UserInputError:
    """``'<file>: <what>[<index>] contains NaN/Inf; clean or drop that
    sample.'``; ``index`` is an int or a tuple (a position in one file)."""
    shown = ', '.join(str(int(i)) for i in index) if isinstance(
        index, (tuple, list)) else str(int(index))
    return UserInputError(f'{path}: {what}[{shown}] contains NaN/Inf; clean '
                          'or drop that sample.')


def check_finite(array: np.ndarray,
                 path: str,
                 what: str,
                 layout: str = '',
                 rows: Optional[Sequence[int]] = None) -> None:
    """Fail on NaN/Inf in ``array`` (one sample per row), naming the file,
    the modality (or array key) and the first bad sample.

    Args:
        array (np.ndarray): Samples along the first axis.
        path (str): The file the array was read from.
        what (str): The modality or array key, e.g. ``'audio'``.
        layout (str): Unused (kept for the callers' signature); a NaN is
            not a layout problem.
        rows (Sequence[int], optional): The index in the file of each row
            of ``array`` (for a chunk or a selection of the file's rows);
            defaults to ``0 .. len(array) - 1``.

    Raises:
        UserInputError: ``'<path>: <what>[<index>] contains NaN/Inf; clean
        or drop that sample.'``
    """
    first = first_nonfinite(array)
    if first is not None:
        raise nonfinite_error(path, what,
                              first if rows is None else rows[first])


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
