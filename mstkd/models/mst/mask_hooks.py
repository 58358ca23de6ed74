"""MaskNets attached to teacher layers by forward hooks (Sec. 3.2).

Hooks act on the *output* of the module named by a layer path, so a MaskNet
on ``fc1`` sees the feature before the activation that follows it. A module
called several times in one forward is masked at every call.

Batched specialized teachers: the ``K`` specialized teachers derived from one
base teacher (Eq. 5) differ only by their MaskNets, so they can share one
forward pass. The batch is repeated ``K`` times along dim 0 (chunk ``j`` is
specialized teacher ``j``) and a :class:`ChunkedMaskHook` at each layer
masks only its own chunks; see :func:`batched_specialized_forward`. This is
exact as long as the teacher treats samples independently (eval mode:
frozen BatchNorm, no dropout), which is how frozen teachers run. Every hook
is removed when the forward ends, also when it raises.
"""
from collections import defaultdict
from contextlib import contextmanager
from typing import (Any, Dict, Iterator, List, Mapping, Sequence, Tuple,
                    Union)

import torch
import torch.nn as nn
from torch import Tensor
from torch.utils.hooks import RemovableHandle

from ..task_modules.layer_paths import validate_layer_paths

Inputs = Union[Tensor, Mapping[str, Tensor], Sequence[Tensor]]


def _check_tensor(output: Any, module: nn.Module) -> Tensor:
    if not isinstance(output, Tensor):
        raise TypeError(f'cannot mask the output of {type(module).__name__}:'
                        f' it is a {type(output).__name__}, not a Tensor')
    return output


class ChunkedMaskHook:
    """Forward hook masking chunks of a ``K``-times repeated batch.

    The output ``(K * B, ...)`` is viewed as ``K`` chunks of ``B`` samples;
    chunk ``j`` is passed through ``masknets[j]`` and the other chunks are
    left unchanged.

    Args:
        num_chunks (int): ``K``, the number of specialized teachers sharing
            the forward.
        masknets (Mapping[int, nn.Module]): Chunk index -> MaskNet applied to
            that chunk at this layer.
    """

    def __init__(self, num_chunks: int,
                 masknets: Mapping[int, nn.Module]) -> None:
        bad = [j for j in masknets if not 0 <= j < num_chunks]
        if bad:
            raise ValueError(f'chunk indices {bad} out of [0, {num_chunks})')
        self.num_chunks = num_chunks
        self.masknets = dict(masknets)

    def __call__(self, module: nn.Module, args: Any, output: Any) -> Tensor:
        output = _check_tensor(output, module)
        if output.shape[0] % self.num_chunks:
            raise ValueError(f'batch {output.shape[0]} is not a multiple of '
                             f'{self.num_chunks} chunks')
        chunks = list(output.chunk(self.num_chunks))
        for j, masknet in self.masknets.items():
            chunks[j] = masknet(chunks[j])
        return torch.cat(chunks)


@contextmanager
def chunked_masked(model: nn.Module,
                   masknets: Sequence[Tuple[str, nn.Module]],
                   stacked: bool = False) -> Iterator[List[RemovableHandle]]:
    """Install :class:`ChunkedMaskHook` s: MaskNet ``j`` masks chunk ``j``.

    Args:
        model (nn.Module): The base teacher.
        masknets (Sequence[tuple[str, nn.Module]]): The ``K`` (path, MaskNet)
            pairs, one per specialized teacher; paths may repeat. ``K = 1``
            with an un-repeated batch is the plain masked teacher.
        stacked (bool): Chunk ``j`` is masked by MaskNets ``0..j`` (in
            order) instead of ``j`` alone: the public release's stage 3,
            which leaves earlier hooks registered. Defaults to False.

    Yields:
        list[RemovableHandle]: One handle per distinct layer; all are
        removed on exit.
    """
    pairs = list(masknets)
    modules = validate_layer_paths(model, [p for p, _ in pairs])
    per_layer: Dict[str, Dict[int, nn.Module]] = defaultdict(dict)
    for j, (path, masknet) in enumerate(pairs):
        for chunk in (range(j, len(pairs)) if stacked else [j]):
            nets = per_layer[path]
            nets[chunk] = nn.Sequential(nets[chunk], masknet) \
                if chunk in nets else masknet
    handles: List[RemovableHandle] = []
    try:
        for path, chunk_nets in per_layer.items():
            hook = ChunkedMaskHook(len(pairs), chunk_nets)
            handles.append(modules[path].register_forward_hook(hook))
        yield handles
    finally:
        for handle in handles:
            handle.remove()


def _call(model: nn.Module, inputs: Inputs) -> Any:
    if isinstance(inputs, Tensor):
        return model(inputs)
    if isinstance(inputs, Mapping):
        return model(**inputs)
    return model(*inputs)


def _repeat(inputs: Inputs, times: int) -> Inputs:
    if isinstance(inputs, Tensor):
        return inputs.repeat(times, *([1] * (inputs.dim() - 1)))
    if isinstance(inputs, Mapping):
        return {k: _repeat(v, times) for k, v in inputs.items()}
    return type(inputs)(_repeat(v, times) for v in inputs)


def _batch_size(inputs: Inputs) -> int:
    if isinstance(inputs, Tensor):
        return inputs.shape[0]
    first = next(iter(inputs.values() if isinstance(inputs, Mapping) else
                      inputs))
    return _batch_size(first)


def batched_specialized_forward(teacher: nn.Module,
                                masknets: Sequence[Tuple[str, nn.Module]],
                                inputs: Inputs,
                                stacked: bool = False) -> Tensor:
    """Run ``K`` specialized teachers of one base teacher in one forward.

    Equivalent to ``K`` forwards of ``teacher``, the ``j``-th with only
    ``masknets[j]`` attached (the paper's use of each MaskNet alone), when
    the teacher is in eval mode. Gradients flow to the MaskNets as usual;
    wrap the call in ``torch.no_grad()`` where nothing is trained.

    Args:
        teacher (nn.Module): The base teacher.
        masknets (Sequence[tuple[str, nn.Module]]): ``K`` (path, MaskNet)
            pairs; several may share a layer.
        inputs (Tensor | Mapping[str, Tensor] | Sequence[Tensor]): One batch
            of ``B`` samples: ``teacher(x)``, ``teacher(**inputs)`` or
            ``teacher(*inputs)`` respectively.
        stacked (bool): See :func:`chunked_masked`. Defaults to False.

    Returns:
        Tensor: Logits ``(K, B, ...)``; entry ``j`` is specialized teacher
        ``j``.
    """
    num = len(masknets)
    if num == 0:
        raise ValueError('batched_specialized_forward needs >= 1 MaskNet')
    batch = _batch_size(inputs)
    with chunked_masked(teacher, masknets, stacked):
        out = _call(teacher, _repeat(inputs, num))
    out = _check_tensor(out, teacher)
    return out.view(num, batch, *out.shape[1:])
