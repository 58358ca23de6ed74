"""MST-Distill's own components: MaskNet (Eq. 6), GateNet (Eq. 11-13) and
the hooks that insert MaskNets into teachers at config-declared layers."""
from .gatenet import DenseGateNet, GateNet
from .mask_hooks import (ChunkedMaskHook, batched_specialized_forward,
                         chunked_masked)
from .masknet import MaskNet, default_hidden_dim

__all__ = [
    'MaskNet', 'default_hidden_dim', 'GateNet', 'DenseGateNet',
    'ChunkedMaskHook', 'chunked_masked', 'batched_specialized_forward'
]
