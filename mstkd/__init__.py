"""mstkd: an OpenMMLab-style toolbox for cross-modal knowledge distillation
(MST-Distill, ACM MM 2025)."""
from .utils.compat import apply_compat
from .version import __version__

# mmcv-lite's missing compiled ops and torch>=2.6's weights-only loading of
# mmengine checkpoints: see mstkd/utils/compat/. Cheap, idempotent.
apply_compat()

__all__ = ['__version__']
