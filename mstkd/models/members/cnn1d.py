from typing import Sequence

from mstkd.registry import MODELS
from .conv_mlp import ConvMLPMember, IntOrSeq


@MODELS.register_module()
class CNN1d(ConvMLPMember):
    """ThreeLayerCNN-1D + MLP (paper Table 5, RAVDESS and VGGSound-50k
    audio members).

    ``conv{i}`` (kernel 3, stride 1, padding 1) -> ``bn{i}`` -> ReLU ->
    max-pool (kernel and stride 3), for each of the three layers; the map is
    pooled to ``pool_size`` steps, flattened and fed to ``fc1`` (320) ->
    ReLU -> ``fc2`` (160) -> ReLU -> ``fc3`` (classes). MaskNets of the
    reference runs sit on ``fc1`` and ``fc2`` (before the ReLU).

    The paper gives no conv widths; the defaults are those of the reference
    release (``AudioBranchNet``) on RAVDESS audio ``[15, 156]`` (MFCCs x
    time): widths 32, 128, 256 with BatchNorm and a ``256 x 5`` last map
    (the default grid: fc1 reads 1,280 features, as in the release).
    VGGSound-50k (``AudioBranchNet_VGGS``) convolves along the 128 VGGish
    dimensions with the 10 one-second segments as channels: ``in_channels=
    10, channels=(16, 32, 64), pool_size=4`` (fc1 reads 256 features); when
    the dataset yields ``[128, 10]`` (features x time) set
    ``transpose_input=True`` to read it that way.

    Args:
        in_channels (int): Input channels. Defaults to 15.
        channels (Sequence[int]): Widths of the conv layers.
            Defaults to (32, 128, 256).
        hidden_channels (Sequence[int]): Hidden fc widths.
            Defaults to (320, 160).
        num_classes (int): Defaults to 8.
        modality (str): Defaults to 'audio'.
        pool_size (int): Steps of the last map before flattening.
            Defaults to 5.
        pool_kernel (int): Defaults to 3.
        **kwargs: ``with_head`` (False drops the MLP: ``forward`` returns
            the flattened conv feature, the ``Anet_woHead`` of the
            late-fusion net), ``norm`` (BatchNorm1d after every conv),
            ``pool_last``, ``kernel_size`` and ``transpose_input`` of
            :class:`ConvMLPMember`, with its defaults.
    """

    conv_dims = 1

    def __init__(self,
                 in_channels: int = 15,
                 channels: Sequence[int] = (32, 128, 256),
                 hidden_channels: Sequence[int] = (320, 160),
                 num_classes: int = 8,
                 modality: str = 'audio',
                 pool_size: IntOrSeq = 5,
                 pool_kernel: int = 3,
                 **kwargs):
        super().__init__(in_channels, channels, hidden_channels, num_classes,
                         modality, pool_size=pool_size,
                         pool_kernel=pool_kernel, **kwargs)
