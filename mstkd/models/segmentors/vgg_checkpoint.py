"""Initialising FuseNet's encoders from a local torchvision VGG16 checkpoint.

FuseNet starts both encoders from ImageNet VGG16 weights; the depth
encoder's first conv (1 input channel) gets the mean of the RGB conv1
weights over the input channels (Hazirbas et al., ACCV 2016, Sec. 3). Nothing
is ever downloaded: the checkpoint is a local file holding a
``torchvision.models.vgg16_bn().state_dict()`` (or ``vgg16()``): keys
``features.<index>.weight`` / ``.bias`` (+ ``running_mean``,
``running_var``, ``num_batches_tracked`` for the BN layers); the
``classifier.*`` keys, if any, are not used. Layers are matched by order.
"""
import logging
import re
from typing import Dict, List, Tuple

import torch
import torch.nn as nn
from mmengine.logging import print_log
from torch import Tensor

from mstkd.utils.checkpoint import load_state_dict_file as _load_file
from mstkd.utils.errors import UserInputError
from .vgg_encoder import VGGEncoder

_FEATURE_KEY = re.compile(r'^features\.(\d+)\.(\w+)$')
_BN_KEYS = ('weight', 'bias', 'running_mean', 'running_var')
LAYOUT_HELP = (
    'Expected a local torchvision VGG16-BN (or VGG16) state dict, e.g. '
    'written by torch.save(torchvision.models.vgg16_bn(weights=...)'
    '.state_dict(), PATH): keys features.0.weight, features.0.bias, '
    'features.1.running_mean, ... (13 convs in 5 stages of 2, 2, 3, 3, 3).')


def load_state_dict_file(path: str) -> Dict[str, Tensor]:
    """Read a local VGG16(-BN) checkpoint into a flat state dict (see
    :func:`mstkd.utils.checkpoint.load_state_dict_file`)."""
    return _load_file(path, 'checkpoint', LAYOUT_HELP)


def is_vgg_state_dict(state_dict: Dict[str, Tensor]) -> bool:
    """True if the state dict has torchvision VGG ``features.N.*`` keys."""
    return any(_FEATURE_KEY.match(k) for k in state_dict)


def split_vgg_layers(state_dict: Dict[str, Tensor]
                     ) -> Tuple[List[Dict[str, Tensor]],
                                List[Dict[str, Tensor]]]:
    """The conv and BN layers of a VGG ``features`` state dict, in order.

    Args:
        state_dict (dict[str, Tensor]): torchvision VGG state dict.

    Returns:
        tuple[list[dict], list[dict]]: Per conv ``{'weight', 'bias'}``; per
        BN ``{'weight', 'bias', 'running_mean', 'running_var'[,
        'num_batches_tracked']}``. A layer with a 4-D weight is a conv, one
        with ``running_mean`` is a BN.
    """
    layers: Dict[int, Dict[str, Tensor]] = {}
    for key, value in state_dict.items():
        match = _FEATURE_KEY.match(key)
        if match:
            layers.setdefault(int(match.group(1)), {})[match.group(2)] = value
    convs, norms = [], []
    for index in sorted(layers):
        params = layers[index]
        if 'running_mean' in params:
            norms.append(params)
        elif params.get('weight') is not None and params['weight'].dim() == 4:
            convs.append(params)
    return convs, norms


def _shape(t: Tensor) -> str:
    return 'x'.join(map(str, t.shape))


def load_vgg_into_encoder(encoder: VGGEncoder,
                          state_dict: Dict[str, Tensor],
                          name: str = 'encoder') -> str:
    """Copy VGG16(-BN) weights into a :class:`VGGEncoder`, layer by layer.

    The ``k``-th conv of the checkpoint goes to the ``k``-th conv of the
    encoder (and likewise the BN layers, when both have them). An encoder
    with one input channel whose checkpoint conv1 has three gets the mean
    over the input channels (FuseNet's depth encoder).

    Args:
        encoder (VGGEncoder): The encoder to fill.
        state_dict (dict[str, Tensor]): torchvision VGG state dict.
        name (str): Encoder name for messages.

    Returns:
        str: A one-line summary of what was copied.

    Raises:
        UserInputError: Listing every expected vs found conv shape when the
            layouts do not match.
    """
    src_convs, src_norms = split_vgg_layers(state_dict)
    dst_convs = encoder.convs()
    dst_norms = encoder.norms()

    def target_shape(i: int, conv: nn.Conv2d, src: Tensor) -> torch.Size:
        shape = conv.weight.shape
        if i == 0 and shape[1] == 1 and src.dim() == 4 and src.shape[1] == 3:
            return torch.Size((shape[0], 3, *shape[2:]))  # averaged below
        return shape

    mismatch = len(src_convs) != len(dst_convs) or any(
        target_shape(i, d, s['weight']) != s['weight'].shape
        or s.get('bias') is None
        for i, (d, s) in enumerate(zip(dst_convs, src_convs)))
    if mismatch:
        lines = [f'the checkpoint does not match {name}: '
                 f'{len(dst_convs)} convs expected, {len(src_convs)} found.'
                 ' Conv weight shapes (out x in x kh x kw), expected vs '
                 'found:']
        for i in range(max(len(dst_convs), len(src_convs))):
            exp = _shape(dst_convs[i].weight) if i < len(dst_convs) else '-'
            got = _shape(src_convs[i]['weight']) if i < len(src_convs) \
                else '-'
            if i < len(src_convs) and src_convs[i].get('bias') is None:
                got += ' (no bias)'
            flag = '' if exp == got else '   <-- differs'
            lines.append(f'  conv {i + 1}: {exp} vs {got}{flag}')
        lines.append('(a 1-channel conv1 accepts a 3-channel one: it is '
                     'averaged). Build the encoders with channels=(64, 128, '
                     '256, 512, 512), num_convs=(2, 2, 3, 3, 3) for VGG16. '
                     + LAYOUT_HELP)
        raise UserInputError('\n'.join(lines))

    copy_norms = bool(src_norms) and len(dst_norms) == len(dst_convs) and \
        all(isinstance(n, nn.modules.batchnorm._BatchNorm) for n in dst_norms)
    if src_norms and copy_norms and len(src_norms) != len(dst_convs):
        raise UserInputError(
            f'the checkpoint has {len(src_norms)} BN layers for '
            f'{len(src_convs)} convs; {name} expects one per conv. '
            + LAYOUT_HELP)
    with torch.no_grad():
        for i, (dst, src) in enumerate(zip(dst_convs, src_convs)):
            weight = src['weight']
            if weight.shape[1] != dst.weight.shape[1]:  # depth conv1
                weight = weight.mean(dim=1, keepdim=True)
            dst.weight.copy_(weight)
            dst.bias.copy_(src['bias'])
        if copy_norms:
            for dst, src in zip(dst_norms, src_norms):
                for key in _BN_KEYS:
                    getattr(dst, key).copy_(src[key])
                if 'num_batches_tracked' in src and \
                        dst.num_batches_tracked is not None:
                    dst.num_batches_tracked.copy_(src['num_batches_tracked'])
    if src_norms and not copy_norms:
        print_log(f'{name}: the checkpoint has BN layers but the encoder '
                  'has no BatchNorm after every conv; only the convs were '
                  'copied.', logger='current', level=logging.WARNING)
    what = f'{len(dst_convs)} convs' + \
        (f' + {len(dst_norms)} BN' if copy_norms else '')
    return f'{name}: {what}'
