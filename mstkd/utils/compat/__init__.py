"""Compatibility layer between mstkd's pinned stack and OpenMMLab libraries.

:func:`apply_compat` (called once from ``mstkd/__init__.py``) switches on two
independent fixes. Both are cheap to switch on: neither imports mmcv, mmseg or
torch at call time; each does its work when the library it patches is imported.

1. :mod:`mstkd.utils.compat.mmcv_ops_shim`: the mmcv-lite ``mmcv.ops`` shim
   (:func:`install_mmcv_ops_shim`). With mmcv-lite (no compiled
   ``mmcv._ext``), a stand-in ``mmcv.ops`` with pure-torch
   :func:`point_sample` / :func:`bilinear_grid_sample` and placeholders for
   the compiled ops lets ``import mmseg.models`` work.
2. :mod:`mstkd.utils.compat.safe_loading`: safe checkpoint loading under
   torch >= 2.6 (:func:`setup_safe_checkpoint_loading`). Weights-only
   ``torch.load`` stays on; the exact globals that mmengine checkpoints hold
   are allowlisted (:data:`MMENGINE_CHECKPOINT_GLOBALS`), refused checkpoints
   raise :class:`CheckpointUnpicklingError`, and trusted extra types can be
   allowed with :func:`allow_checkpoint_globals`.

Both rely on the meta path finder of :mod:`mstkd.utils.compat.import_hooks`
(the shim to serve ``mmcv.ops``, :func:`apply_compat` to set up safe loading
right after ``mmengine.runner.checkpoint`` is imported). Each module's
docstring says why, what, when, and when to remove it. With both fixes gone,
delete this package, its tests and the ``apply_compat()`` call in
``mstkd/__init__.py``.
"""
import sys
from typing import Dict

from .import_hooks import _FINDER, _LOCK, _ensure_finder
from .mmcv_ops_shim import (MMCV_FULL_INSTALL_HINT, bilinear_grid_sample,
                            install_mmcv_ops_shim, is_mmcv_ops_shim_active,
                            point_sample)
from .safe_loading import (MMENGINE_CHECKPOINT_GLOBALS,
                           CheckpointUnpicklingError, allow_checkpoint_globals,
                           setup_safe_checkpoint_loading)

__all__ = [
    'apply_compat', 'install_mmcv_ops_shim', 'is_mmcv_ops_shim_active',
    'setup_safe_checkpoint_loading', 'allow_checkpoint_globals',
    'CheckpointUnpicklingError', 'MMENGINE_CHECKPOINT_GLOBALS',
    'MMCV_FULL_INSTALL_HINT', 'point_sample', 'bilinear_grid_sample'
]

#: The module whose import sets up safe checkpoint loading.
_CHECKPOINT_MODULE = 'mmengine.runner.checkpoint'


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
        checkpoint_module = sys.modules.get(_CHECKPOINT_MODULE)
        if checkpoint_module is not None:
            safe = setup_safe_checkpoint_loading(checkpoint_module)
        else:
            safe = bool(MMENGINE_CHECKPOINT_GLOBALS)
            if not safe:
                _FINDER.post_import_hooks[_CHECKPOINT_MODULE] = \
                    setup_safe_checkpoint_loading
                _ensure_finder()
    return dict(mmcv_ops_shim=shim, safe_checkpoint_loading=safe)
