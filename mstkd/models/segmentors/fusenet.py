"""FuseNet (Hazirbas et al., ACCV 2016) as mmseg segmentors: the RGB-D fusion
net and its RGB / depth branch nets, the NYU-Depth-V2 members of MST-Distill
(paper Sec. 4.2 and Table 5: "FuseNet" teacher, "FuseNet (RGB-Encoder) +
Decoder_RGB" and "FuseNet (D-Encoder) + Decoder_D" students).

Every segmentor reads the same batch tensor ``(B, 4, H, W)`` in RGB-D order
(channels 0-2 RGB, 3 depth) and picks its channels, so one batch feeds all
members. ``model(x)`` returns the logits ``(B, num_classes, H, W)``.

Layer paths (each module returns one tensor, so a MaskNet hook can replace
it; shapes at 480 x 640 with the default VGG16 widths):

========================  ========================  ================
fusion net ``FuseNet``    branch ``FuseNetBranch``  shape
========================  ========================  ================
``rgb_encoder.block1``    ``encoder.block1``        64 x 480 x 640
``depth_encoder.block1``
``fusion.block1``
...                       ...
``rgb_encoder.block5``    ``encoder.block5``        512 x 30 x 40
``depth_encoder.block5``
``fusion.block5``
``bottleneck``            ``bottleneck``            512 x 15 x 20
``decoder.block1``        ``decoder.block1``        512 x 30 x 40
``decoder.block2``        ``decoder.block2``        256 x 60 x 80
``decoder.block3``        ``decoder.block3``        128 x 120 x 160
``decoder.block4``        ``decoder.block4``        64 x 240 x 320
``decoder.block5``        ``decoder.block5``        64 x 480 x 640
``decoder.classifier``    ``decoder.classifier``    C x 480 x 640
========================  ========================  ================

``*encoder.block{i}`` is stage ``i``'s conv stack (its last ReLU, before the
pool); ``fusion.block{i}`` is the fused feature ``rgb + depth`` that the RGB
stream pools and carries on; ``bottleneck`` is the pooled (and dropped-out)
last stage, the decoder's input; ``decoder.block{k}`` is unpooling + convs
(before the decoder's dropout).
"""
import logging
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
from mmengine.logging import print_log
from mmengine.model import initialize
from mmengine.registry import DefaultScope
from mmseg.models.losses import accuracy
from mmseg.models.segmentors.base import BaseSegmentor
from mmseg.models.utils import resize
from mmseg.registry import MODELS as MMSEG_MODELS
from mmseg.utils import OptSampleList, SampleList
from torch import Tensor

from mstkd.registry import MODELS
from mstkd.utils.errors import UserInputError
from .unpool_decoder import UnpoolDecoder
from .vgg_checkpoint import (is_vgg_state_dict, load_state_dict_file,
                             load_vgg_into_encoder)
from .vgg_encoder import (VGG16_CHANNELS, VGG16_NUM_CONVS, EncoderOutput,
                          VGGEncoder)

# Channels of each modality in the batch tensor: [start, stop).
MODALITY_CHANNELS: Dict[str, Tuple[int, int]] = dict(rgb=(0, 3), depth=(3, 4))
NUM_INPUT_CHANNELS = 4


class ElementwiseFusion(nn.Module):
    """Fuses the depth stream into the RGB stream, element-wise.

    Args:
        mode (str): ``'sum'``: ``rgb + depth``, FuseNet's ``Eltwise SUM``
            (the paper, default). ``'mean'``: ``(rgb + depth) / 2``, as a
            public PyTorch release of the MST-Distill FuseNet members does.
    """

    def __init__(self, mode: str = 'sum'):
        super().__init__()
        if mode not in ('sum', 'mean'):
            raise UserInputError(
                f"fusion must be 'sum' (FuseNet) or 'mean', got '{mode}'.")
        self.mode = mode

    def forward(self, rgb: Tensor, depth: Tensor) -> Tensor:
        fused = rgb + depth
        return fused / 2 if self.mode == 'mean' else fused


class FuseNetSegmentor(BaseSegmentor):
    """What the fusion net and the branch nets share: input channels,
    mmseg's loss / predict / tensor modes, and initialisation.

    Subclasses build ``self.decoder`` and implement :meth:`extract_feat`
    (inputs -> :class:`EncoderOutput`) and :meth:`encoders`.

    Args:
        num_classes (int): Classes (40 for NYU-Depth-V2).
        channels (Sequence[int]): Encoder stage widths. Defaults to VGG16's
            (64, 128, 256, 512, 512); tests use tiny ones.
        num_convs (Sequence[int]): Convs per stage. Defaults to VGG16's
            (2, 2, 3, 3, 3).
        norm_cfg (dict, optional): Norm after every conv. Defaults to
            ``dict(type='BN')``.
        dropout_ratio (float): FuseNet's dropout (after pools 3-5 and after
            decoder blocks 1-3). Defaults to 0.5 (FuseNet); the public
            MST-Distill FuseNet release uses 0.4.
        loss_decode (dict): mmseg loss config (built in mmseg's registry).
            Defaults to cross-entropy averaged over the non-void pixels
            (``avg_non_ignore=True``, as ``F.cross_entropy``).
        ignore_index (int): Void label. Defaults to 255.
        init_mode (str): ``'msra'`` (FuseNet's filler, default; then the
            VGG16 checkpoint if given) or ``'release'``: the public
            MST-Distill release's ``init_net`` (``models/FuseNet.py``), which
            re-initialises every child module with
            ``xavier_normal_(gain=0.02)`` conv/linear weights, zero biases
            and BN weights from ``N(1, 0.02)``, after the VGG16 weights were
            copied in, so those weights are discarded; with ``'release'`` a
            given checkpoint is therefore not loaded (a warning says so).
        pretrained (str, optional): Local torchvision VGG16(-BN) checkpoint
            for the encoders, loaded by :meth:`init_weights` (the same as
            ``init_cfg=dict(type='Pretrained', checkpoint=...)``).
        train_cfg (dict, optional): Unused; accepted as mmseg segmentors do.
        test_cfg (dict, optional): Only whole-image inference is supported
            (``mode='whole'``).
        data_preprocessor (dict, optional): E.g. ``dict(type=
            'mmseg.SegDataPreProcessor', size_divisor=32, ...)``.
        init_cfg (dict | list[dict], optional): ``dict(type='Pretrained',
            checkpoint=PATH[, prefix=...])`` with a VGG16 checkpoint (encoders
            only) or a state dict of this very model (all weights; ``prefix``
            selects it inside a larger model's checkpoint). Other mmengine
            initialisers are applied as usual.
    """

    modalities: Tuple[str, ...] = ()

    def __init__(self,
                 num_classes: int = 40,
                 channels: Sequence[int] = VGG16_CHANNELS,
                 num_convs: Sequence[int] = VGG16_NUM_CONVS,
                 norm_cfg: Optional[dict] = dict(type='BN'),
                 dropout_ratio: float = 0.5,
                 loss_decode: dict = dict(
                     type='CrossEntropyLoss',
                     use_sigmoid=False,
                     loss_weight=1.0,
                     avg_non_ignore=True),
                 ignore_index: int = 255,
                 init_mode: str = 'msra',
                 pretrained: Optional[str] = None,
                 train_cfg: Optional[dict] = None,
                 test_cfg: Optional[dict] = None,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Union[dict, List[dict], None] = None):
        super().__init__(
            data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        if num_classes < 2:
            raise UserInputError(
                f'num_classes must be >= 2, got {num_classes}.')
        if not 0 <= dropout_ratio < 1:
            raise UserInputError(
                f'dropout_ratio must be in [0, 1), got {dropout_ratio}.')
        pretrained_cfgs = [c for c in self._init_cfgs()
                           if c.get('type') == 'Pretrained']
        if pretrained is not None and pretrained_cfgs:
            raise UserInputError(
                'give the VGG16 checkpoint either as pretrained=PATH or as '
                "init_cfg=dict(type='Pretrained', checkpoint=PATH), not both.")
        if len(pretrained_cfgs) > 1 or any('checkpoint' not in c
                                           for c in pretrained_cfgs):
            raise UserInputError(
                "init_cfg needs one dict(type='Pretrained', checkpoint=PATH)"
                f', got {init_cfg}.')
        if init_mode not in ('msra', 'release'):
            raise UserInputError(
                f"init_mode must be 'msra' or 'release', got '{init_mode}'.")
        self.init_mode = init_mode
        mode = (test_cfg or {}).get('mode', 'whole')
        if mode != 'whole':
            raise UserInputError(
                f"{type(self).__name__} supports test_cfg mode 'whole' "
                f"only, got '{mode}'.")
        self.num_classes = num_classes
        self.out_channels = num_classes
        self.align_corners = False
        self.ignore_index = ignore_index
        self.channels = tuple(channels)
        self.num_convs = tuple(num_convs)
        self.norm_cfg = norm_cfg
        self.dropout_ratio = dropout_ratio
        self.pretrained = pretrained
        self.train_cfg = train_cfg
        self.test_cfg = test_cfg
        with DefaultScope.overwrite_default_scope('mmseg'):
            self.loss_decode = MMSEG_MODELS.build(loss_decode)

    # ------------------------------------------------------------------
    # construction helpers
    # ------------------------------------------------------------------
    def _encoder(self, in_channels: int) -> VGGEncoder:
        return VGGEncoder(
            in_channels, self.channels, self.num_convs, self.norm_cfg,
            self.dropout_ratio, dropout_stages=(3, 4, 5))

    def _decoder(self) -> UnpoolDecoder:
        return UnpoolDecoder(
            self.num_classes, self.channels, self.num_convs, self.norm_cfg,
            self.dropout_ratio, dropout_blocks=(1, 2, 3))

    def _init_cfgs(self) -> List[dict]:
        if not self.init_cfg:
            return []
        return [self.init_cfg] if isinstance(self.init_cfg, dict) \
            else list(self.init_cfg)

    def encoders(self) -> Dict[str, VGGEncoder]:
        """The VGG encoders by attribute name (filled from VGG16)."""
        raise NotImplementedError

    # ------------------------------------------------------------------
    # inputs
    # ------------------------------------------------------------------
    def pick(self, inputs: Tensor, modality: str) -> Tensor:
        """The channels of ``modality`` in the batch tensor.

        Args:
            inputs (Tensor): ``(B, 4, H, W)`` RGB-D; a branch net also takes
                its own modality alone (``(B, 3, H, W)`` RGB or
                ``(B, 1, H, W)`` depth).
            modality (str): ``'rgb'`` or ``'depth'``.

        Returns:
            Tensor: ``(B, 3, H, W)`` or ``(B, 1, H, W)``.
        """
        if not isinstance(inputs, Tensor) or inputs.dim() != 4:
            got = tuple(inputs.shape) if isinstance(inputs, Tensor) \
                else type(inputs).__name__
            raise UserInputError(
                f'{type(self).__name__} takes one (B, 4, H, W) RGB-D tensor '
                f'(channels 0-2 RGB, 3 depth), got {got}.')
        start, stop = MODALITY_CHANNELS[modality]
        channels = inputs.shape[1]
        if channels == NUM_INPUT_CHANNELS:
            return inputs[:, start:stop]
        if channels == stop - start and len(self.modalities) == 1:
            return inputs
        raise UserInputError(
            f'{type(self).__name__} (modalities {self.modalities}) takes a '
            f'(B, 4, H, W) RGB-D tensor (channels 0-2 RGB, 3 depth), got '
            f'{channels} channels.')

    # ------------------------------------------------------------------
    # mmseg interface
    # ------------------------------------------------------------------
    def extract_feat(self, inputs: Tensor) -> EncoderOutput:
        """Encoder(s) + bottleneck: what the decoder reads."""
        raise NotImplementedError

    def encode_decode(self, inputs: Tensor,
                      batch_img_metas: Optional[List[dict]] = None
                      ) -> Tensor:
        """Logits ``(B, num_classes, H, W)`` at the input size."""
        return self.decoder(*self.extract_feat(inputs))

    def _forward(self,
                 inputs: Tensor,
                 data_samples: OptSampleList = None) -> Tensor:
        """Mode ``'tensor'``: the logits at the input size."""
        return self.encode_decode(inputs)

    def loss(self, inputs: Tensor, data_samples: SampleList) -> dict:
        """Mode ``'loss'``: ``loss_ce`` (void pixels ignored) and
        ``acc_seg``.

        Args:
            inputs (Tensor): ``(B, 4, H, W)``.
            data_samples (list[SegDataSample]): With ``gt_sem_seg``.

        Returns:
            dict[str, Tensor]: Losses (keys with ``loss``) and accuracy.
        """
        return self.loss_by_feat(self._forward(inputs), data_samples)

    def loss_by_feat(self, seg_logits: Tensor,
                     data_samples: SampleList) -> dict:
        """The loss of given logits against the samples' label maps.

        Logits are resized (bilinear) to the label size when they differ.

        Args:
            seg_logits (Tensor): ``(B, num_classes, h, w)``.
            data_samples (list[SegDataSample]): With ``gt_sem_seg``.

        Returns:
            dict[str, Tensor]: ``{loss_name: loss, 'acc_seg': accuracy}``.
        """
        if not data_samples or any(
                'gt_sem_seg' not in s for s in data_samples):
            raise UserInputError(
                "mode 'loss' needs data_samples with gt_sem_seg label maps.")
        labels = torch.stack([s.gt_sem_seg.data for s in data_samples])
        if seg_logits.shape[2:] != labels.shape[2:]:
            seg_logits = resize(seg_logits, size=labels.shape[2:],
                                mode='bilinear',
                                align_corners=self.align_corners)
        labels = labels.squeeze(1).long()
        return {
            self.loss_decode.loss_name:
            self.loss_decode(seg_logits, labels,
                             ignore_index=self.ignore_index),
            'acc_seg':
            accuracy(seg_logits, labels, ignore_index=self.ignore_index)
        }

    def predict(self,
                inputs: Tensor,
                data_samples: OptSampleList = None) -> SampleList:
        """Mode ``'predict'``: ``SegDataSample`` s with ``seg_logits`` and
        ``pred_sem_seg`` at each image's ``ori_shape`` (padding removed, see
        :meth:`BaseSegmentor.postprocess_result`).

        Samples without ``ori_shape`` are taken at the input size.
        """
        seg_logits = self._forward(inputs)
        if data_samples is not None:
            for sample in data_samples:
                if 'ori_shape' not in sample:
                    sample.set_metainfo(
                        dict(ori_shape=tuple(inputs.shape[2:])))
        return self.postprocess_result(seg_logits, data_samples)

    # ------------------------------------------------------------------
    # weights
    # ------------------------------------------------------------------
    def init_weights(self) -> None:
        """FuseNet's initialisation, then the VGG16 checkpoint if any.

        Every conv gets MSRA (He) normal weights and zero bias, every BN
        weight 1 and bias 0 (FuseNet's ``msra`` filler); then other
        ``init_cfg`` initialisers run; then the ``Pretrained`` checkpoint
        (or ``pretrained``) is loaded (:meth:`load_pretrained`). Without a
        checkpoint one warning says the encoders start from random weights.

        A model whose ``is_init`` is already True (e.g. a member whose
        weights were loaded from a checkpoint) is left untouched.
        """
        if self.is_init:
            print_log(
                f'{type(self).__name__}.init_weights: already initialised '
                '(is_init=True); weights left as they are.',
                logger='current', level=logging.DEBUG)
            return
        if self.init_mode == 'release':
            self._release_init()
            if self.pretrained is not None or any(
                    c.get('type') == 'Pretrained' for c in self._init_cfgs()):
                print_log(
                    f"{type(self).__name__}(init_mode='release'): the "
                    'VGG16 checkpoint is not loaded (the release '
                    're-initialises every layer after copying it in).',
                    logger='current', level=logging.WARNING)
            self._is_init = True
            return
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode='fan_in',
                                        nonlinearity='relu')
                if module.bias is not None:
                    nn.init.zeros_(module.bias)
            elif isinstance(module, (nn.modules.batchnorm._BatchNorm,
                                     nn.GroupNorm)):
                if module.weight is not None:
                    nn.init.ones_(module.weight)
                    nn.init.zeros_(module.bias)
        other = [c for c in self._init_cfgs() if c.get('type') != 'Pretrained']
        if other:
            initialize(self, other)
        pretrained = [c for c in self._init_cfgs()
                      if c.get('type') == 'Pretrained']
        if pretrained:
            self.load_pretrained(pretrained[0]['checkpoint'],
                                 prefix=pretrained[0].get('prefix'))
        elif self.pretrained is not None:
            self.load_pretrained(self.pretrained)
        else:
            print_log(
                f'{type(self).__name__}: no VGG16 checkpoint given '
                "(pretrained=PATH or init_cfg=dict(type='Pretrained', "
                'checkpoint=PATH)); the encoders start from random weights.',
                logger='current', level=logging.WARNING)
        self._is_init = True

    def _release_init(self, gain: float = 0.02) -> None:
        """The release's ``init_weights(net, 'xavier', 0.02)``: conv and
        linear weights ``xavier_normal_(gain)``, biases 0, BN weights
        ``N(1, gain)``, BN biases 0."""
        for module in self.modules():
            if isinstance(module, (nn.Conv2d, nn.Linear)):
                nn.init.xavier_normal_(module.weight, gain=gain)
                if module.bias is not None:
                    nn.init.zeros_(module.bias)
            elif isinstance(module, nn.BatchNorm2d):
                nn.init.normal_(module.weight, 1.0, gain)
                nn.init.zeros_(module.bias)

    def load_pretrained(self, checkpoint: str,
                        prefix: Optional[str] = None) -> None:
        """Load a local checkpoint.

        A torchvision VGG16(-BN) state dict (keys ``features.N.*``) fills
        the encoders (:func:`load_vgg_into_encoder`); any other state dict
        must be this model's own (after removing ``prefix``) and is loaded
        strictly.

        Args:
            checkpoint (str): Local file.
            prefix (str, optional): Key prefix of this model inside the
                checkpoint (e.g. ``'members.rgb.'``).

        Raises:
            UserInputError: If the layout matches neither, naming the
                missing / unexpected / mis-shaped keys.
        """
        state_dict = load_state_dict_file(checkpoint)
        name = type(self).__name__
        if is_vgg_state_dict(state_dict) and not prefix:
            done = [load_vgg_into_encoder(enc, state_dict, attr)
                    for attr, enc in self.encoders().items()]
            print_log(f'{name}: VGG16 weights from {checkpoint}: '
                      + '; '.join(done), logger='current')
            return
        if prefix:
            state_dict = {k[len(prefix):]: v for k, v in state_dict.items()
                          if k.startswith(prefix)}
        own = self.state_dict()
        missing = [k for k in own if k not in state_dict]
        unexpected = [k for k in state_dict if k not in own]
        shapes = [f'{k}: expected {tuple(own[k].shape)}, found '
                  f'{tuple(state_dict[k].shape)}' for k in own
                  if k in state_dict and own[k].shape != state_dict[k].shape]
        if missing or unexpected or shapes:

            def head(keys):
                more = f' ... (+{len(keys) - 8})' if len(keys) > 8 else ''
                return ', '.join(keys[:8]) + more

            raise UserInputError(
                f'checkpoint "{checkpoint}" is neither a torchvision VGG16 '
                f'state dict (keys features.N.weight, ...) nor a {name} '
                f"state dict{f' under prefix {prefix!r}' if prefix else ''}."
                f'\n  missing keys ({len(missing)}): {head(missing)}'
                f'\n  unexpected keys ({len(unexpected)}): '
                f'{head(unexpected)}'
                f'\n  shape mismatches ({len(shapes)}): {head(shapes)}')
        self.load_state_dict(state_dict)
        print_log(f'{name}: all weights from {checkpoint}', logger='current')


@MMSEG_MODELS.register_module()
@MODELS.register_module()
class FuseNet(FuseNetSegmentor):
    """FuseNet-SF5: RGB and depth VGG16 encoders, the depth stage outputs
    summed into the RGB stream before every pool, one unpooling decoder.

    Stage ``i``: ``d_i = depth_encoder.block{i}(d)``, ``r_i =
    rgb_encoder.block{i}(r)``, ``f_i = fusion.block{i}(r_i, d_i)``; the RGB
    stream continues from ``pool(f_i)`` (whose indices the decoder unpools
    with), the depth stream from ``pool(d_i)``. ``bottleneck`` is the pooled
    ``f_5``; the decoder mirrors the encoder (see :class:`UnpoolDecoder`).

    Args:
        fusion (str): ``'sum'`` (FuseNet, default) or ``'mean'`` (a public
            release of the MST-Distill members averages the two streams).
        **kwargs: See :class:`FuseNetSegmentor`.
    """

    modalities = ('rgb', 'depth')

    def __init__(self, fusion: str = 'sum', **kwargs):
        super().__init__(**kwargs)
        self.rgb_encoder = self._encoder(3)
        self.depth_encoder = self._encoder(1)
        self.fusion = nn.ModuleDict({
            f'block{i}': ElementwiseFusion(fusion)
            for i in range(1, len(self.channels) + 1)
        })
        self.bottleneck = nn.Identity()
        self.decoder = self._decoder()

    def encoders(self) -> Dict[str, VGGEncoder]:
        return dict(rgb_encoder=self.rgb_encoder,
                    depth_encoder=self.depth_encoder)

    def extract_feat(self, inputs: Tensor) -> EncoderOutput:
        """Both encoders with fusion; the decoder gets the fused stream's
        pool indices.

        Args:
            inputs (Tensor): ``(B, 4, H, W)`` RGB-D.

        Returns:
            EncoderOutput: ``bottleneck`` output, indices and sizes of the
            fused stream's pools.
        """
        rgb = self.pick(inputs, 'rgb')
        depth = self.pick(inputs, 'depth')
        num_stages = self.rgb_encoder.num_stages
        indices, sizes = [], []
        for i in range(1, num_stages + 1):
            depth = self.depth_encoder.forward_block(i, depth)
            rgb = self.rgb_encoder.forward_block(i, rgb)
            fused = self.fusion[f'block{i}'](rgb, depth)
            sizes.append(fused.shape[-2:])
            rgb, idx = self.rgb_encoder.pool(i, fused)
            indices.append(idx)
            if i < num_stages:  # FuseNet does not pool the last depth stage
                depth, _ = self.depth_encoder.pool(i, depth)
        return EncoderOutput(self.bottleneck(rgb), indices, sizes)


@MMSEG_MODELS.register_module()
@MODELS.register_module()
class FuseNetBranch(FuseNetSegmentor):
    """One FuseNet encoder (RGB or depth) + the unpooling decoder: the
    unimodal students of paper Table 5.

    Args:
        modality (str): ``'rgb'`` (reads channels 0-2) or ``'depth'``
            (channel 3; the encoder's conv1 has one input channel).
        **kwargs: See :class:`FuseNetSegmentor`.
    """

    def __init__(self, modality: str = 'rgb', **kwargs):
        if modality not in MODALITY_CHANNELS:
            raise UserInputError(
                f"modality must be one of {sorted(MODALITY_CHANNELS)}, got "
                f"'{modality}'.")
        super().__init__(**kwargs)
        self.modality = modality
        self.modalities = (modality, )
        start, stop = MODALITY_CHANNELS[modality]
        self.encoder = self._encoder(stop - start)
        self.bottleneck = nn.Identity()
        self.decoder = self._decoder()

    def encoders(self) -> Dict[str, VGGEncoder]:
        return dict(encoder=self.encoder)

    def extract_feat(self, inputs: Tensor) -> EncoderOutput:
        """The encoder on this branch's channels.

        Args:
            inputs (Tensor): ``(B, 4, H, W)`` RGB-D (or this modality alone).

        Returns:
            EncoderOutput: ``bottleneck`` output, indices and sizes.
        """
        out = self.encoder(self.pick(inputs, self.modality))
        return EncoderOutput(self.bottleneck(out.bottom), out.indices,
                             out.sizes)
