"""MaskNet: the soft feature mask of specialized teacher adaptation (Eq. 6)."""
from typing import Optional

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from mstkd.registry import MODELS


def default_hidden_dim(in_channels: int, num_heads: int) -> int:
    """``in_channels // 2`` rounded down to a multiple of ``num_heads``.

    Args:
        in_channels (int): Feature dimension ``d_m``.
        num_heads (int): Number of attention heads.

    Returns:
        int: Hidden width ``d_h`` (at least ``num_heads``).
    """
    return max(num_heads, (in_channels // 2) // num_heads * num_heads)


@MODELS.register_module()
class MaskNet(nn.Module):
    """Soft-mask reconstruction of a teacher feature (Eq. 6).

    ``Z* = sigmoid(Linear(MHSA(Projector(Z)))) * Z``: the projector turns the
    ``d_m``-dimensional feature into ``d_m`` tokens of width ``d_h``, a
    multi-head self-attention block mixes the tokens, a linear layer maps each
    token to one logit and the sigmoid of it is the mask of that channel.

    A feature map ``(B, C, H, W)`` is first reduced to ``(B, C)``; the
    ``(B, C)`` mask is then broadcast back over ``H, W``. The paper does not
    say how the map is reduced:

    - ``spatial_reduction='mean'`` (default): the spatial mean, no
      parameters, so a ``(B, 120, 1, 1)`` map behaves as a 120-d vector.
    - ``'learned'`` (the reference release's ``SpatialReduction`` in
      ``KD_methods/MST.py``, used by its ``MaskNet_2d``): depthwise 3x3
      stride-2 conv (no bias) -> 1x1 conv (no bias) -> BatchNorm -> ReLU ->
      global average pool. Only for ``(B, C, H, W)`` inputs.

    Projectors:

    - ``'full'`` (paper, default): ``Linear(d_m, d_m * d_h)`` then a reshape.
      It holds ``d_m * d_m * d_h`` weights (+ ``d_m * d_h`` biases): 106 M at
      ``d_m = 596, d_h = 298``, 536 M at ``d_m = 1024, d_h = 512``.
    - ``'light'`` (mstkd option): token ``i`` is ``x_i * a_i + b_i`` with
      learnable ``a, b`` of shape ``(d_m, d_h)``, i.e. the block-diagonal
      restriction of the full projector (each token only sees its own
      channel before attention), ``2 * d_m * d_h`` weights. The rest of the
      module is identical; channels still interact through the attention.

    Args:
        in_channels (int): Feature dimension ``d_m`` (channels of a map).
        hidden_dim (int, optional): Token width ``d_h``. Defaults to
            ``in_channels // 2`` rounded down to a multiple of ``num_heads``.
        num_heads (int): Attention heads (the paper uses 3). Defaults to 3.
        projector (str): ``'full'`` or ``'light'``. Defaults to ``'full'``.
        dropout (float): Attention dropout. Defaults to 0.0.
        spatial_reduction (str): ``'mean'`` or ``'learned'``. Defaults to
            ``'mean'``.
        folded_readout (bool): Compute ``fc(MHSA(tokens))`` with the two
            linear maps after the attention folded into one vector (see
            :meth:`folded_logits`): the same function of the same
            parameters, with the same gradients up to float rounding, and
            about 0.65x the MaskNet's time at ``d_m = 596`` on a CPU (it
            skips the value projection's full width and the output
            projection). The parameters and checkpoints are unchanged.
            Defaults to False (the plain ``nn.MultiheadAttention`` path,
            bit-for-bit what earlier results were computed with).
    """

    def __init__(self,
                 in_channels: int,
                 hidden_dim: Optional[int] = None,
                 num_heads: int = 3,
                 projector: str = 'full',
                 dropout: float = 0.0,
                 spatial_reduction: str = 'mean',
                 folded_readout: bool = False) -> None:
        super().__init__()
        if hidden_dim is None:
            hidden_dim = default_hidden_dim(in_channels, num_heads)
        if hidden_dim % num_heads != 0:
            raise ValueError(f'hidden_dim ({hidden_dim}) must be divisible '
                             f'by num_heads ({num_heads})')
        if projector not in ('full', 'light'):
            raise ValueError(
                f"projector must be 'full' or 'light', got {projector!r}")
        if spatial_reduction not in ('mean', 'learned'):
            raise ValueError("spatial_reduction must be 'mean' or 'learned', "
                             f'got {spatial_reduction!r}')
        self.in_channels = in_channels
        self.spatial_reduction = spatial_reduction
        if spatial_reduction == 'learned':
            self.reduce = nn.Sequential(
                nn.Conv2d(in_channels, in_channels, 3, stride=2, padding=1,
                          groups=in_channels, bias=False),
                nn.Conv2d(in_channels, in_channels, 1, bias=False),
                nn.BatchNorm2d(in_channels), nn.ReLU(inplace=True),
                nn.AdaptiveAvgPool2d(1), nn.Flatten(1))
        self.hidden_dim = hidden_dim
        self.num_heads = num_heads
        self.projector_type = projector

        if projector == 'full':
            self.projector = nn.Linear(in_channels, in_channels * hidden_dim)
        else:
            # Same per-entry init range as a Linear with fan_in = 1 for the
            # scales, and as the full projector's bias for the offsets.
            bound = in_channels**-0.5
            self.proj_scale = nn.Parameter(
                torch.empty(in_channels, hidden_dim).uniform_(-1, 1))
            self.proj_bias = nn.Parameter(
                torch.empty(in_channels, hidden_dim).uniform_(-bound, bound))
        self.attn = nn.MultiheadAttention(
            hidden_dim, num_heads, dropout=dropout, batch_first=True)
        self.fc = nn.Linear(hidden_dim, 1)
        self.folded_readout = folded_readout

    def _project(self, z: Tensor) -> Tensor:
        """(B, d_m) -> (B, d_m, d_h) tokens."""
        if self.projector_type == 'full':
            return self.projector(z).view(-1, self.in_channels,
                                          self.hidden_dim)
        return z.unsqueeze(-1) * self.proj_scale + self.proj_bias

    def mask(self, x: Tensor) -> Tensor:
        """Compute the soft mask of Eq. 6 without applying it.

        Args:
            x (Tensor): Feature ``(B, d_m)`` or map ``(B, d_m, *spatial)``.

        Returns:
            Tensor: Mask in ``(0, 1)`` of shape ``(B, d_m)``.
        """
        if x.dim() < 2 or x.shape[1] != self.in_channels:
            raise ValueError(
                f'MaskNet expects (B, {self.in_channels}, *spatial) inputs, '
                f'got shape {tuple(x.shape)}')
        if self.spatial_reduction == 'learned':
            if x.dim() != 4:
                raise ValueError(
                    "spatial_reduction='learned' needs (B, C, H, W) maps, "
                    f'got shape {tuple(x.shape)}')
            z = self.reduce(x)
        else:
            z = x.flatten(2).mean(-1) if x.dim() > 2 else x
        tokens = self._project(z)
        if self.folded_readout:
            return torch.sigmoid(self.folded_logits(tokens))
        tokens, _ = self.attn(tokens, tokens, tokens, need_weights=False)
        return torch.sigmoid(self.fc(tokens).squeeze(-1))

    def folded_logits(self, tokens: Tensor) -> Tensor:
        """``fc(MHSA(tokens)).squeeze(-1)`` computed with the readout
        folded into the attention.

        Per token ``i``, ``fc(out_proj(a_i)) = a_i . u + c`` with
        ``u = W_o^T w_fc`` and ``c = b_o . w_fc + b_fc``: linear maps
        compose. With ``u = (u_1, ..., u_H)`` split by head, head ``h``
        contributes ``sum_j p_h(i, j) (v_hj . u_h)`` and ``v_hj . u_h =
        t_j . (W_vh^T u_h) + b_vh . u_h``: one scalar per token and head
        instead of a ``d_h / H``-wide value. So the value projection
        shrinks from ``d_h x d_h`` to ``H x d_h`` and the output projection
        disappears. The scalar values are zero-padded to the query width so
        that the fused (flash) attention kernel runs, which needs equal
        widths and never materialises the ``L x L`` scores. Gradients reach
        ``in_proj``, ``out_proj`` and ``fc`` through ``u``, ``c`` and the
        folded value weights by autograd.

        Args:
            tokens (Tensor): ``(B, d_m, d_h)`` from the projector.

        Returns:
            Tensor: ``(B, d_m)`` logits of the mask.
        """
        attn = self.attn
        batch, length, width = tokens.shape
        heads = attn.num_heads
        head_dim = width // heads
        w = self.fc.weight[0]  # (d_h, )
        u = (attn.out_proj.weight.t() @ w).view(heads, head_dim)
        c = attn.out_proj.bias @ w + self.fc.bias
        w_v = attn.in_proj_weight[2 * width:].view(heads, head_dim, width)
        b_v = attn.in_proj_bias[2 * width:].view(heads, head_dim)
        qk = F.linear(tokens, attn.in_proj_weight[:2 * width],
                      attn.in_proj_bias[:2 * width])
        q, k = qk.view(batch, length, 2, heads, head_dim).permute(
            2, 0, 3, 1, 4).unbind(0)  # (B, H, L, d_h / H) each
        v = F.linear(tokens, torch.einsum('hd,hde->he', u, w_v),
                     (b_v * u).sum(1))  # (B, L, H): v_hj . u_h
        v = F.pad(v.transpose(1, 2).unsqueeze(-1), (0, head_dim - 1))
        out = F.scaled_dot_product_attention(
            q, k, v, dropout_p=attn.dropout if self.training else 0.0)
        return out[..., 0].sum(1) + c

    def forward(self, x: Tensor) -> Tensor:
        """Mask the feature (Eq. 6).

        Args:
            x (Tensor): Feature ``(B, d_m)`` or map ``(B, d_m, *spatial)``.

        Returns:
            Tensor: ``mask * x``, same shape as ``x``.
        """
        m = self.mask(x)
        return x * m.view(*m.shape, *([1] * (x.dim() - 2)))

    def extra_repr(self) -> str:
        return (f'in_channels={self.in_channels}, hidden_dim={self.hidden_dim}'
                f', num_heads={self.num_heads}, '
                f'projector={self.projector_type!r}, '
                f'spatial_reduction={self.spatial_reduction!r}'
                + (', folded_readout=True' if self.folded_readout else ''))
