"""Safe (weights-only) checkpoint loading under torch >= 2.6.

Function: :func:`setup_safe_checkpoint_loading` (run by
:func:`mstkd.utils.compat.apply_compat`).

*Why.* Since torch 2.6, ``torch.load`` loads weights-only by default: it only
rebuilds tensors, containers and allowlisted globals. mmengine 0.10.7 calls
``torch.load(filename, map_location=...)`` without options, and its checkpoints
also hold the :class:`~mmengine.MessageHub` state (``HistoryBuffer`` objects
holding numpy arrays, numpy scalars such as ``eta`` / ``best_score``), so
``resume=True``, ``load_from=...`` and ``load_checkpoint`` fail with
``_pickle.UnpicklingError``.

*What.* The exact globals that mmengine checkpoints hold are added with
``torch.serialization.add_safe_globals`` (found empirically by training an
mmengine ``Runner`` with CheckpointHook / save_best / validation and resuming;
see :data:`MMENGINE_CHECKPOINT_GLOBALS`):

- ``mmengine.logging.history_buffer.HistoryBuffer``;
- ``builtins.getattr``, restricted to ``getattr(HistoryBuffer, name)`` for the
  statistics methods ``min``/``max``/``current``/``mean`` that a buffer pickles
  (protocol 2 stores them as ``getattr(HistoryBuffer, 'min')``); any other
  ``getattr`` in a checkpoint is refused (this applies to every weights-only
  ``torch.load`` in the process; torch refuses ``getattr`` outright by
  default, so nothing that loaded before is refused now);
- numpy (:func:`numpy_array_globals`): ``numpy.ndarray``,
  ``numpy._core.multiarray._reconstruct`` (arrays),
  ``numpy._core.multiarray.scalar`` (numpy scalars), ``numpy.dtype`` and the
  dtype classes ``Float64DType``/``Int64DType`` (mmengine's history buffers and
  ``eta``/``best_score``) and ``Float32DType`` (``best_score`` of mmseg's
  ``IoUMetric``). The numpy 1.x module paths (``numpy.core.multiarray...``) are
  registered as aliases so checkpoints written under numpy 1.x also load.

Weights-only loading itself stays on, for mstkd and for every other caller of
``torch.load``. mmengine's local-file checkpoint loader (the ``''`` scheme of
``mmengine.runner.checkpoint.CheckpointLoader``) is wrapped so that a refused
checkpoint raises :class:`CheckpointUnpicklingError`, naming the file, the
rejected global and what to do; the refused pickle's code is never run. Types
that a trusted checkpoint legitimately holds can be added with
:func:`allow_checkpoint_globals`.

The numpy part, :func:`numpy_array_globals`, also serves mstkd's datasets
that read numpy arrays from ``torch.save`` files (CrisisMMD's release file,
see :func:`mstkd.datasets.crisismmd.numpy_arrays_allowed`).

*When.* With torch >= 2.4 (``add_safe_globals`` exists; on torch < 2.6 the
allowlist only matters for explicit weights-only loads).
:func:`~mstkd.utils.compat.apply_compat` runs it when
``mmengine.runner.checkpoint`` is imported (or at once if it already is); call
:func:`setup_safe_checkpoint_loading` yourself to use the allowlist with a
bare ``torch.load``.

*Removal.* Delete this module once mmengine registers its own safe globals
(or loads its checkpoints through an allowlist itself); move
:func:`numpy_array_globals` next to its remaining users (the datasets) then.
"""
import functools
import importlib
import pickle
import re
import zipfile
from typing import Any, Callable, Iterable, List, Sequence

from .import_hooks import _LOCK

__all__ = [
    'setup_safe_checkpoint_loading', 'allow_checkpoint_globals',
    'numpy_array_globals', 'CheckpointUnpicklingError',
    'MMENGINE_CHECKPOINT_GLOBALS', 'MMENGINE_NUMPY_DTYPES', 'NUMERIC_DTYPES'
]

#: The dtypes of the numpy arrays and scalars in mmengine checkpoints:
#: history buffers, ``eta`` and ``best_score`` (float64 / int64), and
#: ``best_score`` of mmseg's ``IoUMetric`` (float32).
MMENGINE_NUMPY_DTYPES = ('float64', 'int64', 'float32')

#: Every numeric numpy dtype (bool, integers, floats), none that can hold
#: Python objects.
NUMERIC_DTYPES = ('bool', 'int8', 'int16', 'int32', 'int64', 'uint8',
                  'uint16', 'uint32', 'uint64', 'float16', 'float32',
                  'float64')


def numpy_array_globals(
        dtypes: Sequence[Any] = MMENGINE_NUMPY_DTYPES) -> List[Any]:
    """What a weights-only ``torch.load`` needs to rebuild numpy arrays and
    numpy scalars of ``dtypes``.

    These are ``numpy.ndarray``, ``numpy.dtype``, the DType class of each
    dtype (numpy >= 1.25 pickles a dtype through its class), and
    ``multiarray._reconstruct`` (arrays) and ``multiarray.scalar`` (scalars)
    under both the numpy 2 (``numpy._core``) and numpy 1.x (``numpy.core``)
    module paths, so files pickled under either load under the installed one.
    Imports numpy.

    Args:
        dtypes (Sequence): Anything ``numpy.dtype`` accepts, e.g.
            ``'float32'`` or ``np.int64``. Only give numeric dtypes: the
            object dtype would let a file unpickle arbitrary objects.
            Defaults to :data:`MMENGINE_NUMPY_DTYPES`.

    Returns:
        list: Entries for ``torch.serialization.add_safe_globals`` /
        ``safe_globals``: classes and ``(obj, 'module.qualified.name')``
        pairs, without duplicates.
    """
    import numpy as np
    try:
        from numpy._core import multiarray  # numpy >= 2
    except ImportError:  # pragma: no cover - numpy 1.x
        from numpy.core import multiarray

    entries: List[Any] = [np.ndarray, np.dtype]
    for dtype in dtypes:
        dtype_class = type(np.dtype(dtype))
        if dtype_class not in entries:
            entries.append(dtype_class)
    # Module path differs between numpy 2 (``_core``) and 1.x (``core``);
    # register both so files from either load under the installed one.
    for core in ('numpy._core', 'numpy.core'):
        entries.append(
            (multiarray._reconstruct, f'{core}.multiarray._reconstruct'))
        entries.append((multiarray.scalar, f'{core}.multiarray.scalar'))
    return entries


#: Statistics methods that a pickled ``HistoryBuffer`` refers to through
#: ``getattr(HistoryBuffer, name)`` (its ``_statistics_methods`` defaults).
_HISTORY_BUFFER_GETATTR = frozenset({'min', 'max', 'current', 'mean'})

_GETATTR_REFUSED = 'refused getattr'


def _checkpoint_getattr(obj: Any, name: Any, *default: Any) -> Any:
    """``builtins.getattr`` as seen by weights-only unpickling.

    Only ``getattr(HistoryBuffer, 'min'|'max'|'current'|'mean')`` is allowed;
    anything else could read arbitrary attributes, so it is refused.
    """
    from mmengine.logging.history_buffer import HistoryBuffer
    if obj is HistoryBuffer and not default and \
            name in _HISTORY_BUFFER_GETATTR:
        return getattr(obj, name)
    shown = getattr(obj, '__qualname__', None) or type(obj).__qualname__
    raise pickle.UnpicklingError(
        f'Unsupported global: {_GETATTR_REFUSED}({shown}, {name!r}) - '
        'mstkd only allows getattr(HistoryBuffer, min|max|current|mean) in '
        'checkpoints')


def _mmengine_checkpoint_globals() -> List[Any]:
    """Build :data:`MMENGINE_CHECKPOINT_GLOBALS` (imports numpy + mmengine)."""
    from mmengine.logging.history_buffer import HistoryBuffer
    return [
        HistoryBuffer,
        (_checkpoint_getattr, 'builtins.getattr'),
    ] + numpy_array_globals(MMENGINE_NUMPY_DTYPES)


#: Filled by :func:`setup_safe_checkpoint_loading`: what it allowlisted.
MMENGINE_CHECKPOINT_GLOBALS: List[Any] = []

_ALLOW_HINT = ('Only load checkpoints you trust; if this type is legitimate, '
               'allowlist it with '
               'mstkd.utils.compat.allow_checkpoint_globals([...]) before '
               'loading.')


class CheckpointUnpicklingError(pickle.UnpicklingError):
    """A checkpoint refused by weights-only loading (nothing was executed).

    Attributes:
        filename (str): The checkpoint.
        rejected (str): The global torch refused (``'unknown'`` if not found
            in torch's message).
    """

    def __init__(self, filename: str, rejected: str, detail: str) -> None:
        self.filename = str(filename)
        self.rejected = rejected
        super().__init__(
            f'Refused to load checkpoint {self.filename!r}: it references the '
            f'global {rejected!r}, which is not on the weights-only allowlist '
            'of torch.load. Unpickling it could run arbitrary code, so it was '
            f'not loaded. {_ALLOW_HINT} (torch: {detail})')


_REJECTED_PATTERNS = (
    re.compile(r'GLOBAL (\S+) was not an allowed global'),
    re.compile(r'GLOBAL (\S+) whose module \S+ is blocked'),
    re.compile(_GETATTR_REFUSED + r'(\(.*?\)) - '),
    re.compile(r'unrecognized function (.+?)(?: which belongs to .*)?$', re.M),
    re.compile(r'but got (.+?)$', re.M),
)


def _rejected_global(message: str) -> str:
    for pattern in _REJECTED_PATTERNS:
        match = pattern.search(message)
        if match:
            found = match.group(1)
            return f'getattr{found}' if pattern is _REJECTED_PATTERNS[2] \
                else found
    return 'unknown'


def _torch_detail(message: str) -> str:
    """The WeightsUnpickler part of torch's (long) error message."""
    for line in message.splitlines():
        if any(p.search(line) for p in _REJECTED_PATTERNS):
            line = line.split('WeightsUnpickler error: ')[-1]
            # Drop torch's advice to allowlist the rejected global as is.
            return line.split(' Please use `torch.serialization')[0].strip()
    return message.splitlines()[0] if message else ''


#: Parts of torch's messages for a file that is not a (whole) checkpoint.
_CORRUPT_MARKERS = ('PytorchStreamReader', 'central directory',
                    'invalid load key', 'Ran out of input')


def _unreadable(filename, err: BaseException) -> Exception:
    """One clear error for a truncated, empty or foreign checkpoint file."""
    from mstkd.utils.errors import UserInputError
    detail = str(err).splitlines()[0] if str(err) else type(err).__name__
    return UserInputError(
        f'{filename} is not a readable checkpoint (truncated, empty or not '
        f'a torch.save file: {detail}). Use another checkpoint of the run '
        '(epoch_N.pth, sN_end.pth, best_*.pth) or train again.')


def _guard_loader(loader: Callable) -> Callable:
    """Wrap an mmengine checkpoint loader ``(filename, map_location)``."""

    @functools.wraps(loader)
    def guarded_loader(filename, *args, **kwargs):
        try:
            return loader(filename, *args, **kwargs)
        except CheckpointUnpicklingError:
            raise
        except pickle.UnpicklingError as err:
            message = str(err)
            if 'Weights only load failed' not in message and \
                    _rejected_global(message) == 'unknown':
                raise _unreadable(filename, err) from None  # corrupt file
            raise CheckpointUnpicklingError(filename,
                                            _rejected_global(message),
                                            _torch_detail(message)) from err
        except (EOFError, zipfile.BadZipFile, KeyError, IndexError,
                UnicodeDecodeError) as err:
            # torch.load of bytes that are no pickle stream (the unpickler
            # indexes its memo / opcode tables with garbage)
            raise _unreadable(filename, err) from None
        except RuntimeError as err:
            if any(k in str(err) for k in _CORRUPT_MARKERS):
                raise _unreadable(filename, err) from None
            raise

    guarded_loader._mstkd_guarded = True
    return guarded_loader


def _guard_mmengine_local_loader(checkpoint_module=None) -> None:
    if checkpoint_module is None:
        checkpoint_module = importlib.import_module(
            'mmengine.runner.checkpoint')
    loader_cls = checkpoint_module.CheckpointLoader
    local = loader_cls._schemes.get('')
    if local is None or getattr(local, '_mstkd_guarded', False):
        return
    loader_cls.register_scheme(
        prefixes='', loader=_guard_loader(local), force=True)


def setup_safe_checkpoint_loading(_checkpoint_module=None) -> bool:
    """Let weights-only ``torch.load`` read mmengine checkpoints.

    Allowlists exactly :data:`MMENGINE_CHECKPOINT_GLOBALS` and makes
    mmengine's local checkpoint loader raise :class:`CheckpointUnpicklingError`
    for refused checkpoints. Idempotent. Imports torch, numpy and
    ``mmengine.runner.checkpoint``.

    Returns:
        bool: False if torch has no ``add_safe_globals`` (torch < 2.4, where
        ``torch.load`` is not weights-only by default), else True.
    """
    import torch
    add_safe_globals = getattr(torch.serialization, 'add_safe_globals', None)
    if add_safe_globals is None:
        return False
    with _LOCK:
        if not MMENGINE_CHECKPOINT_GLOBALS:
            entries = _mmengine_checkpoint_globals()
            add_safe_globals(entries)
            MMENGINE_CHECKPOINT_GLOBALS.extend(entries)
        _guard_mmengine_local_loader(_checkpoint_module)
    return True


def allow_checkpoint_globals(globals_: Iterable[Any]) -> None:
    """Allowlist more globals for weights-only checkpoint loading.

    For types that a checkpoint you trust legitimately holds (e.g. a custom
    metric value class). Forwards to ``torch.serialization.add_safe_globals``;
    items are classes/functions or ``(obj, 'module.qualified.name')`` pairs.

    Args:
        globals_ (Iterable): The classes/functions to allow.

    Raises:
        ValueError: For ``builtins.getattr``: allowing it outright would let a
            checkpoint read any attribute of any allowed object; mstkd
            already allows the ``getattr`` calls mmengine checkpoints make.
    """
    import builtins

    import torch
    items = list(globals_)
    for item in items:
        obj = item[0] if isinstance(item, tuple) else item
        name = item[1] if isinstance(item, tuple) else None
        if obj is builtins.getattr or name == 'builtins.getattr':
            raise ValueError(
                'refusing to allowlist builtins.getattr: it would let a '
                'checkpoint read arbitrary attributes. mstkd already allows '
                'getattr(HistoryBuffer, min|max|current|mean), which is all '
                'that mmengine checkpoints use.')
    torch.serialization.add_safe_globals(items)
