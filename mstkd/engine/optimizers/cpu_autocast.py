"""bfloat16 autocast on the CPU, as an optimizer wrapper.

mmengine's ``AmpOptimWrapper`` needs a CUDA (or NPU/MLU/MUSA) device. On a
CPU with bfloat16 support (AVX512-BF16 or AMX) the forward can still run
under ``torch.autocast('cpu', torch.bfloat16)``: matmuls and convolutions
in bfloat16, reductions and losses in float32, the weights, gradients and
optimizer state in float32. bfloat16 has float32's range, so no loss
scaling is needed. It changes the numbers (an 8-bit mantissa): an opt-in
(``tools/train.py --amp`` on a CPU machine), never the default.
"""
from contextlib import contextmanager

import torch
import torch.nn as nn
from mmengine.optim import OptimWrapper

from mstkd.registry import OPTIM_WRAPPERS
from mstkd.utils.errors import UserInputError


def cpu_bf16_supported() -> bool:
    """Whether this CPU runs bfloat16 matmuls natively (oneDNN)."""
    check = getattr(torch.ops.mkldnn, '_is_mkldnn_bf16_supported', None)
    try:
        return bool(check()) if check is not None else False
    except RuntimeError:
        return False


@OPTIM_WRAPPERS.register_module()
class CPUAutocastOptimWrapper(OptimWrapper):
    """:class:`~mmengine.optim.OptimWrapper` whose ``optim_context`` (the
    forward of ``train_step``) runs under CPU autocast.

    Args:
        dtype (str): 'bfloat16' (the only CPU autocast type that helps).
        **kwargs: :class:`~mmengine.optim.OptimWrapper` arguments.
    """

    def __init__(self, *args, dtype: str = 'bfloat16', **kwargs):
        super().__init__(*args, **kwargs)
        if dtype != 'bfloat16':
            raise UserInputError("CPUAutocastOptimWrapper: dtype must be "
                                 f"'bfloat16', got {dtype!r}.")
        self.dtype = torch.bfloat16

    @contextmanager
    def optim_context(self, model: nn.Module):
        with super().optim_context(model), torch.autocast(
                'cpu', dtype=self.dtype):
            yield
