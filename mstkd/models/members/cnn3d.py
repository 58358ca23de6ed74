from typing import Sequence

from mstkd.registry import MODELS
from .conv_mlp import ConvMLPMember, IntOrSeq


@MODELS.register_module()
class CNN3d(ConvMLPMember):
    """ThreeLayerCNN-3D + MLP (paper Table 5, RAVDESS and VGGSound-50k
    visual members).

    ``conv{i}`` (3x3x3, stride 1, padding 1) -> ``bn{i}`` -> ReLU ->
    2x2x2 max-pool, for each of the three layers; the feature map is pooled
    to the grid ``pool_size``, flattened and fed to ``fc1`` (320) -> ReLU ->
    ``fc2`` (160) -> ReLU -> ``fc3`` (classes). MaskNets of the reference
    runs sit on ``fc1`` and ``fc2`` (module outputs, before the ReLU).

    The paper gives no conv widths; the defaults are those of the reference
    release (``VisualBranchNet``) on RAVDESS video ``[3, 15, 224, 224]``
    (channels x frames x H x W): widths 6, 12, 24 with BatchNorm, a pool
    after every conv, and a ``24 x 1 x 28 x 28`` last map (the default grid,
    so the pool is the identity there: fc1 reads 18,816 features as in the
    release). Smaller frames (tests) are resampled to the same grid.
    VGGSound-50k (``VisualBranchNet_VGGS``, input the ``[512, 10, 7, 7]``
    VGG19 maps) uses ``in_channels=512, channels=(256, 128, 64),
    pool_last=False, pool_size=(2, 1, 1)`` (fc1 reads 128 features).

    Args:
        in_channels (int): Input channels. Defaults to 3.
        channels (Sequence[int]): Widths of the conv layers.
            Defaults to (6, 12, 24).
        hidden_channels (Sequence[int]): Hidden fc widths.
            Defaults to (320, 160).
        num_classes (int): Defaults to 8.
        modality (str): Defaults to 'video'.
        pool_size (int | Sequence[int]): (D, H, W) grid before flattening.
            Defaults to (1, 28, 28).
        **kwargs: ``with_head`` (False drops the MLP: ``forward`` returns
            the flattened conv feature, the ``Vnet_woHead`` of the
            late-fusion net), ``norm`` (BatchNorm3d after every conv),
            ``pool_last``, ``kernel_size`` and ``pool_kernel`` (2) of
            :class:`ConvMLPMember`, with its defaults.
    """

    conv_dims = 3

    def __init__(self,
                 in_channels: int = 3,
                 channels: Sequence[int] = (6, 12, 24),
                 hidden_channels: Sequence[int] = (320, 160),
                 num_classes: int = 8,
                 modality: str = 'video',
                 pool_size: IntOrSeq = (1, 28, 28),
                 **kwargs):
        super().__init__(in_channels, channels, hidden_channels, num_classes,
                         modality, pool_size=pool_size, **kwargs)
