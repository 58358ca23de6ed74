"""mmcv-lite ``mmcv.ops`` shim.

Function: :func:`install_mmcv_ops_shim` (run by
:func:`mstkd.utils.compat.apply_compat`).

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

The stand-in is served by the meta path finder of
:mod:`mstkd.utils.compat.import_hooks`; installing it does not import mmcv
(the ``mmcv`` package is only searched on disk for ``mmcv._ext``).

*Removal.* Delete this module once mstkd requires full mmcv, or once mmseg
imports ``mmcv.ops`` lazily / behind ``try``.
"""
import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import sys
import types
from typing import Any, Callable, Dict, List, Optional

from .import_hooks import _FINDER, _LOCK, _ensure_finder

__all__ = [
    'install_mmcv_ops_shim', 'is_mmcv_ops_shim_active',
    'MMCV_FULL_INSTALL_HINT', 'point_sample', 'bilinear_grid_sample'
]

MMCV_FULL_INSTALL_HINT = ('install full mmcv (e.g. `pip install -U openmim && '
                          'mim install mmcv==2.1.0`)')

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
# The stand-in module, its placeholders and its installation
# ---------------------------------------------------------------------------

#: The package the shim stands for (with its submodules).
_SHIMMED_PACKAGE = 'mmcv.ops'

_SHIM_ORIGIN = ('mstkd.utils.compat.mmcv_ops_shim (mmcv-lite stand-in for '
                'mmcv.ops)')


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


def _shim_spec(fullname: str) -> importlib.machinery.ModuleSpec:
    """Spec of the stand-in for ``mmcv.ops`` or ``mmcv.ops.<submodule>``."""
    return importlib.machinery.ModuleSpec(
        fullname, _MmcvOpsShimLoader(), origin=_SHIM_ORIGIN, is_package=True)


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
    return _SHIMMED_PACKAGE in _FINDER.served or isinstance(
        sys.modules.get(_SHIMMED_PACKAGE), _MmcvOpsShimModule)


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
        if sys.modules.get(_SHIMMED_PACKAGE) is not None:
            return False  # a real mmcv.ops is loaded: full mmcv works
        if _mmcv_has_ext() is not False:
            return False  # full mmcv, or no mmcv at all
        _FINDER.served[_SHIMMED_PACKAGE] = _shim_spec
        _ensure_finder()
        if 'mmcv' in sys.modules:
            importlib.import_module(_SHIMMED_PACKAGE)
        return True
