"""Per-sample min-max normalisation, for whole tensors and single items."""
import numpy as np
import torch


def minmax_per_sample(x: torch.Tensor, eps: float = 1e-12) -> torch.Tensor:
    """Min-max normalise every sample (dim 0) to [0, 1], in float32.

    Works in place on float32 input to avoid whole-set temporaries. A
    constant sample becomes all zeros (the reference release divides by zero
    there and gets NaN).
    """
    x = (x.float() if x.dtype != torch.float32 else x).contiguous()
    flat = x.view(x.shape[0], -1)
    lo = flat.min(dim=1, keepdim=True).values
    hi = flat.max(dim=1, keepdim=True).values
    flat.sub_(lo).div_((hi - lo).clamp_min(eps))
    return x


def minmax_item(x: np.ndarray, eps: float = 1e-12) -> torch.Tensor:
    """Min-max normalise ONE sample to [0, 1] in float32 (a per-item
    transform; the same numbers as :func:`minmax_per_sample` on a batch)."""
    return minmax_per_sample(
        torch.from_numpy(np.array(x, dtype=np.float32))[None], eps)[0]
