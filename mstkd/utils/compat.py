"""Compatibility layer between mstkd's pinned stack and OpenMMLab libraries.

:func:`apply_compat` (called once from ``mstkd/__init__.py``) switches on two
independent fixes. Both are cheap to switch on: neither imports mmcv, mmseg or
torch at call time; each does its work when the library it patches is imported.

1. mmcv-lite ``mmcv.ops`` shim
------------------------------
Function: :func:`install_mmcv_ops_shim`.

*Why.* mstkd pins ``mmcv-lite``, which ships the Python sources of ``mmcv.ops``
but not the compiled CUDA/C++ extension ``mmcv._ext`` that they load at import
time. mmsegmentation 1.2.2 imports ``mmcv.ops`` unconditionally in a few
modules (``models/losses/focal_loss.py``, ``models/utils/point_sample.py``,
``models/decode_heads/san_head.py``, ``utils/mask_classification.py``), so with
mmcv-lite ``import mmseg.models`` dies with ``No module named 'mmcv._ext'``
although the models mstkd uses (e.g. ``EncoderDecoder`` + ``FCNHead``) are pure
torch.

*What.* A meta path finder serves a stand-in module for ``mmcv.ops`` (and for
any ``mmcv.ops.<submodule>`` imported by path). It provides pure-torch
:func:`point_sample` and :func:`bilinear_grid_sample` (same semantics as
mmcv's); every other public name is a placeholder class. A placeholder can be
imported, subclassed, registered and used in ``isinstance`` checks (nothing is
an instance of it), but instantiating or calling it - or a subclass of it -
raises a :class:`RuntimeError` that names the op and says to install full
mmcv. mmcv/mmengine's own availability checks (``mmcv_full_available()``, which
looks for ``mmcv._ext``) keep answering False.

*When.* Only when the installed ``mmcv`` package has no ``mmcv._ext`` extension
(i.e. mmcv-lite) and no real ``mmcv.ops`` is loaded. With full mmcv
(``mim install mmcv==2.1.0``) nothing is installed; mmcv's real ops are used.
A full mmcv whose ``_ext`` is present but broken is *not* masked: its import
error surfaces as usual.

*Removal.* Delete this part once mstkd requires full mmcv, or once mmseg
imports ``mmcv.ops`` lazily / behind ``try``.

2. Safe checkpoint loading under torch >= 2.6
---------------------------------------------
Function: :func:`setup_safe_checkpoint_loading`.

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
- numpy: ``numpy.ndarray``, ``numpy._core.multiarray._reconstruct`` (arrays),
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

*When.* With torch >= 2.4 (``add_safe_globals`` exists; on torch < 2.6 the
allowlist only matters for explicit weights-only loads). :func:`apply_compat`
runs it when ``mmengine.runner.checkpoint`` is imported (or at once if it
already is); call :func:`setup_safe_checkpoint_loading` yourself to use the
allowlist with a bare ``torch.load``.

*Removal.* Delete this part once mmengine registers its own safe globals
(or loads its checkpoints through an allowlist itself). With both parts gone,
delete this module, its tests and the ``apply_compat()`` call in
``mstkd/__init__.py``.
"""
import functools
import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import pickle
import re
import sys
import threading
import types
import warnings
from typing import Any, Callable, Dict, Iterable, List, Optional

__all__ = [
    'apply_compat', 'install_mmcv_ops_shim', 'is_mmcv_ops_shim_active',
    'setup_safe_checkpoint_loading', 'allow_checkpoint_globals',
    'CheckpointUnpicklingError', 'MMENGINE_CHECKPOINT_GLOBALS',
    'MMCV_FULL_INSTALL_HINT', 'point_sample', 'bilinear_grid_sample'
]

MMCV_FULL_INSTALL_HINT = ('install full mmcv (e.g. `pip install -U openmim && '
                          'mim install mmcv==2.1.0`)')

_LOCK = threading.RLock()

# ---------------------------------------------------------------------------
# Pure-torch ops served by the shim (semantics of mmcv/ops/point_sample.py)
# ---------------------------------------------------------------------------


def bilinear_grid_sample(im, grid, align_corners: bool = False):
    """Pure-torch bilinear ``grid_sample`` with zero padding.

    Same as ``mmcv.ops.point_sample.bilinear_grid_sample`` (used by mmcv for
    ONNX export): numerically equal to ``F.grid_sample(im, grid,
    mode='bilinear', padding_mode='zeros', align_corners=align_corners)``.

    Args:
        im (Tensor): Input feature map, shape (N, C, H, W).
        grid (Tensor): Sampling grid in [-1, 1], shape (N, Hg, Wg, 2), last
            dim ordered (x, y).
        align_corners (bool): As in :func:`torch.nn.functional.grid_sample`.

    Returns:
        Tensor: Sampled values, shape (N, C, Hg, Wg).
    """
    import torch
    import torch.nn.functional as F

    n, c, h, w = im.shape
    gn, gh, gw, _ = grid.shape
    assert n == gn, f'batch sizes differ: {n} vs {gn}'

    x = grid[..., 0]
    y = grid[..., 1]
    if align_corners:
        x = ((x + 1) / 2) * (w - 1)
        y = ((y + 1) / 2) * (h - 1)
    else:
        x = ((x + 1) * w - 1) / 2
        y = ((y + 1) * h - 1) / 2
    x = x.reshape(n, -1)
    y = y.reshape(n, -1)

    x0 = torch.floor(x).long()
    y0 = torch.floor(y).long()
    x1 = x0 + 1
    y1 = y0 + 1
    wa = ((x1 - x) * (y1 - y)).unsqueeze(1)
    wb = ((x1 - x) * (y - y0)).unsqueeze(1)
    wc = ((x - x0) * (y1 - y)).unsqueeze(1)
    wd = ((x - x0) * (y - y0)).unsqueeze(1)

    # Zero padding: pad by one pixel, clamp indices into the padded image.
    im_padded = F.pad(im, pad=[1, 1, 1, 1], mode='constant', value=0)
    padded_h, padded_w = h + 2, w + 2
    x0 = (x0 + 1).clamp(0, padded_w - 1)
    x1 = (x1 + 1).clamp(0, padded_w - 1)
    y0 = (y0 + 1).clamp(0, padded_h - 1)
    y1 = (y1 + 1).clamp(0, padded_h - 1)
    im_padded = im_padded.reshape(n, c, -1)

    def gather(xs, ys):
        index = (xs + ys * padded_w).unsqueeze(1).expand(-1, c, -1)
        return torch.gather(im_padded, 2, index)

    out = (gather(x0, y0) * wa + gather(x0, y1) * wb + gather(x1, y0) * wc +
           gather(x1, y1) * wd)
    return out.reshape(n, c, gh, gw)


def point_sample(input, points, align_corners: bool = False, **kwargs):
    """Sample ``input`` at normalized point coordinates (mmcv semantics).

    A wrapper around :func:`torch.nn.functional.grid_sample` for points in
    ``[0, 1] x [0, 1]`` (x, y), as ``mmcv.ops.point_sample``.

    Args:
        input (Tensor): Feature map, shape (N, C, H, W).
        points (Tensor): Points in [0, 1], shape (N, P, 2) or
            (N, Hgrid, Wgrid, 2).
        align_corners (bool): As in ``grid_sample``. Defaults to False.
        **kwargs: Passed to ``grid_sample`` (``mode``, ``padding_mode``).

    Returns:
        Tensor: Shape (N, C, P) or (N, C, Hgrid, Wgrid).
    """
    import torch.nn.functional as F

    add_dim = points.dim() == 3
    if add_dim:
        points = points.unsqueeze(2)
    output = F.grid_sample(
        input, points * 2.0 - 1.0, align_corners=align_corners, **kwargs)
    if add_dim:
        output = output.squeeze(3)
    return output


def _no_compiled_ops_version() -> str:
    return 'n/a (mmcv-lite: no compiled ops)'


# Names the shim serves with a working implementation. The two version
# queries keep ``mmcv.utils.collect_env()`` working.
_SERVED: Dict[str, Callable] = {
    'point_sample': point_sample,
    'bilinear_grid_sample': bilinear_grid_sample,
    'get_compiler_version': _no_compiled_ops_version,
    'get_compiling_cuda_version': _no_compiled_ops_version,
}

# ---------------------------------------------------------------------------
# Part 1: mmcv.ops shim
# ---------------------------------------------------------------------------

_SHIM_ORIGIN = 'mstkd.utils.compat (mmcv-lite stand-in for mmcv.ops)'


def _unavailable_message(qualname: str) -> str:
    return (f'{qualname} is a compiled CUDA/C++ op from mmcv.ops, which needs '
            'the extension mmcv._ext that mmcv-lite does not ship (mstkd\'s '
            'mmcv-lite shim only provides the pure-torch '
            f'{", ".join(sorted(_SERVED))}); {MMCV_FULL_INSTALL_HINT} to use '
            'it.')


def _make_placeholder(module_name: str, name: str) -> type:
    """A class standing for the missing op ``module_name.name``.

    Importing, subclassing, registering and ``isinstance`` work; creating an
    instance or calling it (the placeholder or any subclass) raises.
    """
    qualname = f'{module_name}.{name}'
    message = _unavailable_message(qualname)

    def __new__(cls, *args, **kwargs):
        if cls is placeholder:
            raise RuntimeError(message)
        raise RuntimeError(
            f'{cls.__module__}.{cls.__qualname__} cannot be used because it '
            f'subclasses a placeholder: {message}')

    namespace = {
        '__new__': __new__,
        '__module__': module_name,
        '__qualname__': name,
        '__doc__': message,
        '_mstkd_unavailable_op': qualname,
    }
    placeholder = type(name, (), namespace)
    return placeholder


class _MmcvOpsShimModule(types.ModuleType):
    """Module object standing for ``mmcv.ops`` / ``mmcv.ops.<submodule>``."""

    def __getattr__(self, name: str) -> Any:
        # Only called when normal lookup fails. Private and dunder names
        # (``__file__``, ``__all__``, ``__wrapped__``, ...) stay missing so
        # that introspection (inspect, pickle, ``from ... import *``) behaves.
        if name.startswith('_'):
            raise AttributeError(
                f'module {self.__name__!r} has no attribute {name!r}')
        value = _SERVED.get(name)
        if value is None:
            value = _make_placeholder(self.__name__, name)
        # Cache so that ``mmcv.ops.X is mmcv.ops.X``.
        self.__dict__[name] = value
        return value

    def __setattr__(self, name: str, value: Any) -> None:
        # The import system binds an imported submodule on its parent
        # (``import mmcv.ops.point_sample`` sets ``mmcv.ops.point_sample``).
        # Like in real mmcv, a function/class of that name wins.
        current = self.__dict__.get(name)
        if isinstance(value, _MmcvOpsShimModule) and current is not None \
                and not isinstance(current, types.ModuleType):
            return
        super().__setattr__(name, value)

    def __dir__(self) -> List[str]:
        return sorted(set(super().__dir__()) | set(_SERVED))

    def __repr__(self) -> str:
        return f'<module {self.__name__!r} ({_SHIM_ORIGIN})>'


class _MmcvOpsShimLoader(importlib.abc.Loader):

    def create_module(self, spec):
        return _MmcvOpsShimModule(spec.name)

    def exec_module(self, module) -> None:
        module.__doc__ = (
            f'{_SHIM_ORIGIN}: point_sample and bilinear_grid_sample work; '
            'other ops raise RuntimeError when used; '
            f'{MMCV_FULL_INSTALL_HINT} for the compiled ops.')


class _PostImportLoader(importlib.abc.Loader):
    """Runs ``callback(module)`` after ``loader`` has executed ``module``."""

    def __init__(self, loader, callback: Callable) -> None:
        self._loader = loader
        self._callback = callback

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module) -> None:
        self._loader.exec_module(module)
        try:
            self._callback(module)
        except Exception as err:  # never break the import itself
            warnings.warn(f'mstkd.utils.compat: post-import hook for '
                          f'{module.__name__} failed: {err!r}')

    def __getattr__(self, name: str) -> Any:
        # get_source, get_filename, get_resource_reader, ... of the real one.
        return getattr(self._loader, name)


class _CompatFinder(importlib.abc.MetaPathFinder):
    """``sys.meta_path`` entry of this module (one instance, at the front).

    Serves the ``mmcv.ops`` shim when enabled and runs post-import hooks.
    Every other name is left to the finders behind it.
    """

    def __init__(self) -> None:
        self.serve_mmcv_ops = False
        self.post_import_hooks: Dict[str, Callable] = {}

    def find_spec(self, fullname, path=None, target=None):
        if self.serve_mmcv_ops and (fullname == 'mmcv.ops'
                                    or fullname.startswith('mmcv.ops.')):
            return importlib.machinery.ModuleSpec(
                fullname,
                _MmcvOpsShimLoader(),
                origin=_SHIM_ORIGIN,
                is_package=True)
        callback = self.post_import_hooks.pop(fullname, None)
        if callback is None:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, 'find_spec'):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None:
                if spec.loader is not None and hasattr(spec.loader,
                                                       'exec_module'):
                    spec.loader = _PostImportLoader(spec.loader, callback)
                return spec
        return None


_FINDER = _CompatFinder()


def _ensure_finder() -> None:
    if _FINDER not in sys.meta_path:
        sys.meta_path.insert(0, _FINDER)


def _mmcv_has_ext() -> Optional[bool]:
    """Whether ``mmcv._ext`` is available; None if mmcv is not installed.

    Decided without importing mmcv: a loaded ``mmcv._ext`` counts, otherwise
    the ``mmcv`` package directory is searched for the extension.
    """
    if sys.modules.get('mmcv._ext') is not None:
        return True
    mmcv = sys.modules.get('mmcv')
    if mmcv is not None:
        locations = list(getattr(mmcv, '__path__', []))
    else:
        try:
            spec = importlib.util.find_spec('mmcv')
        except (ImportError, ValueError):
            spec = None
        if spec is None:
            return None
        locations = list(spec.submodule_search_locations or [])
    ext_spec = importlib.machinery.PathFinder.find_spec('mmcv._ext', locations)
    return ext_spec is not None


def is_mmcv_ops_shim_active() -> bool:
    """Whether ``mmcv.ops`` is (or will be, on import) mstkd's shim."""
    return _FINDER.serve_mmcv_ops or isinstance(
        sys.modules.get('mmcv.ops'), _MmcvOpsShimModule)


def install_mmcv_ops_shim() -> bool:
    """Serve a stand-in ``mmcv.ops`` if mmcv-lite (no ``mmcv._ext``) is used.

    Idempotent and cheap: mmcv is not imported. If mmcv is already imported,
    ``sys.modules['mmcv.ops']`` and the ``mmcv.ops`` attribute are set now;
    otherwise on the first ``import mmcv.ops`` (or ``from mmcv.ops import X``).

    Returns:
        bool: True if the shim is active; False if it is not needed (full
        mmcv with ``mmcv._ext``, a real ``mmcv.ops`` already loaded, or no
        mmcv installed).
    """
    with _LOCK:
        if is_mmcv_ops_shim_active():
            return True
        if sys.modules.get('mmcv.ops') is not None:
            return False  # a real mmcv.ops is loaded: full mmcv works
        if _mmcv_has_ext() is not False:
            return False  # full mmcv, or no mmcv at all
        _FINDER.serve_mmcv_ops = True
        _ensure_finder()
        if 'mmcv' in sys.modules:
            importlib.import_module('mmcv.ops')
        return True


# ---------------------------------------------------------------------------
# Part 2: safe checkpoint loading
# ---------------------------------------------------------------------------

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
    import numpy as np
    from mmengine.logging.history_buffer import HistoryBuffer
    try:
        from numpy._core import multiarray  # numpy >= 2
    except ImportError:  # pragma: no cover - numpy 1.x
        from numpy.core import multiarray

    entries: List[Any] = [
        HistoryBuffer,
        (_checkpoint_getattr, 'builtins.getattr'),
        np.ndarray,
        np.dtype,
        type(np.dtype(np.float64)),
        type(np.dtype(np.int64)),
        type(np.dtype(np.float32)),
    ]
    # Module path differs between numpy 2 (``_core``) and 1.x (``core``);
    # register both so checkpoints from either load under the installed one.
    for core in ('numpy._core', 'numpy.core'):
        entries.append(
            (multiarray._reconstruct, f'{core}.multiarray._reconstruct'))
        entries.append((multiarray.scalar, f'{core}.multiarray.scalar'))
    return entries


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
                raise  # not a weights-only refusal (e.g. a corrupt file)
            raise CheckpointUnpicklingError(filename,
                                            _rejected_global(message),
                                            _torch_detail(message)) from err

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


# ---------------------------------------------------------------------------
# Entry point
# ---------------------------------------------------------------------------


def apply_compat() -> Dict[str, bool]:
    """Switch on both compatibility fixes. Idempotent and cheap.

    * the ``mmcv.ops`` shim, if mmcv-lite is installed
      (:func:`install_mmcv_ops_shim`);
    * safe checkpoint loading (:func:`setup_safe_checkpoint_loading`): now if
      ``mmengine.runner.checkpoint`` is already imported, else right after
      it is imported (so ``import mstkd`` does not import torch).

    Returns:
        dict: ``mmcv_ops_shim`` - whether the shim is active;
        ``safe_checkpoint_loading`` - True once set up, False while it waits
        for ``mmengine.runner.checkpoint`` to be imported (or if torch is too
        old to need it).
    """
    with _LOCK:
        shim = install_mmcv_ops_shim()
        checkpoint_module = sys.modules.get('mmengine.runner.checkpoint')
        if checkpoint_module is not None:
            safe = setup_safe_checkpoint_loading(checkpoint_module)
        else:
            safe = bool(MMENGINE_CHECKPOINT_GLOBALS)
            if not safe:
                _FINDER.post_import_hooks['mmengine.runner.checkpoint'] = \
                    setup_safe_checkpoint_loading
                _ensure_finder()
    return dict(mmcv_ops_shim=shim, safe_checkpoint_loading=safe)
