"""Attach MaskNets to teacher layers by dotted module path.

A layer path is a name from ``model.named_modules()`` (``'fusion.fc1'``,
``'image_trunk.conv2'``, ``'layers.0'``). Hooks act on the *output* of the
module, so a MaskNet on ``fc1`` sees the feature before the activation that
follows it. A module called several times in one forward is masked at every
call.

Batched specialized teachers: the ``K`` specialized teachers derived from one
base teacher (Eq. 5) differ only by their MaskNets, so they can share one
forward pass. The batch is repeated ``K`` times along dim 0 (chunk ``j`` is
specialized teacher ``j``) and a :class:`ChunkedMaskHook` at each layer
masks only its own chunks; see :func:`batched_specialized_forward`. This is
exact as long as the teacher treats samples independently (eval mode:
frozen BatchNorm, no dropout), which is how frozen teachers run.
"""
import difflib
from collections import defaultdict
from contextlib import contextmanager
from typing import (Any, Dict, Iterable, Iterator, List, Mapping, Sequence,
                    Tuple, Union)

import torch
import torch.nn as nn
from mmengine.model import is_model_wrapper
from torch import Tensor
from torch.utils.hooks import RemovableHandle

from mstkd.utils.errors import UserInputError

MaskNetSpec = Union[Mapping[str, nn.Module], Iterable[Tuple[str, nn.Module]]]
Inputs = Union[Tensor, Mapping[str, Tensor], Sequence[Tensor]]


class LayerPathError(UserInputError, ValueError):
    """A layer path that does not name a submodule of the model."""


def unwrap_model(model: nn.Module) -> nn.Module:
    """Strip (MM)DistributedDataParallel / DataParallel wrappers.

    Args:
        model (nn.Module): A model, wrapped or not.

    Returns:
        nn.Module: The innermost wrapped module.
    """
    while is_model_wrapper(model) or isinstance(
            model, (nn.DataParallel, nn.parallel.DistributedDataParallel)):
        model = model.module
    return model


def _layer_path_message(model: nn.Module, bad_paths: Sequence[str]) -> str:
    valid = [name for name, _ in model.named_modules() if name]
    lines = [f'{len(bad_paths)} invalid layer path(s) for '
             f'{type(model).__name__}:']
    for path in bad_paths:
        close = difflib.get_close_matches(path, valid, n=3, cutoff=0.5)
        hint = f" Did you mean: {', '.join(map(repr, close))}?" \
            if close else ''
        lines.append(f'  {path!r} is not a submodule.{hint}')
    lines.append('Valid layer paths:')
    lines.extend(f'  {name}' for name in valid)
    return '\n'.join(lines)


def _get_submodule(model: nn.Module, path: str) -> nn.Module:
    if not path:
        raise AttributeError('empty path')
    return model.get_submodule(path)


def resolve_layer(model: nn.Module, path: str) -> nn.Module:
    """Find the submodule named by a dotted path.

    Args:
        model (nn.Module): The model (DDP-style wrappers are unwrapped).
        path (str): Dotted module path, e.g. ``'fusion.fc1'``.

    Returns:
        nn.Module: The submodule.

    Raises:
        LayerPathError: Naming the path, the model class, close matches and
            every valid dotted path.
    """
    model = unwrap_model(model)
    try:
        return _get_submodule(model, path)
    except AttributeError:
        raise LayerPathError(_layer_path_message(model, [path])) from None


def validate_layer_paths(model: nn.Module,
                         paths: Iterable[str]) -> Dict[str, nn.Module]:
    """Resolve several paths at once, reporting every wrong one together.

    Args:
        model (nn.Module): The model (wrappers are unwrapped).
        paths (Iterable[str]): Dotted module paths.

    Returns:
        dict[str, nn.Module]: The resolved modules by path.

    Raises:
        LayerPathError: If any path is invalid (all of them are listed).
    """
    model = unwrap_model(model)
    found, bad = {}, []
    for path in paths:
        try:
            found[path] = _get_submodule(model, path)
        except AttributeError:
            bad.append(path)
    if bad:
        raise LayerPathError(_layer_path_message(model, bad))
    return found


def _call(model: nn.Module, inputs: Inputs) -> Any:
    if isinstance(inputs, Tensor):
        return model(inputs)
    if isinstance(inputs, Mapping):
        return model(**inputs)
    return model(*inputs)


def infer_feature_shapes(model: nn.Module, paths: Iterable[str],
                         *example_args, **example_kwargs
                         ) -> Dict[str, torch.Size]:
    """Output shapes (batch dim dropped) of layers, by a dry forward.

    Runs ``model(*example_args, **example_kwargs)`` once in eval mode under
    ``torch.no_grad()`` with temporary forward hooks; the hooks are removed
    and every submodule's train/eval flag is restored afterwards. A module
    called several times reports its first call.

    Args:
        model (nn.Module): The model (wrappers are unwrapped).
        paths (Iterable[str]): Dotted module paths.
        *example_args: Positional inputs of the forward.
        **example_kwargs: Keyword inputs of the forward.

    Returns:
        dict[str, torch.Size]: ``path -> output.shape[1:]``.
    """
    model = unwrap_model(model)
    modules = validate_layer_paths(model, list(paths))
    shapes: Dict[str, torch.Size] = {}

    def make_hook(path: str):

        def hook(module, args, output):
            if not isinstance(output, Tensor):
                raise TypeError(f'layer {path!r} returns '
                                f'{type(output).__name__}, not a Tensor')
            shapes.setdefault(path, output.shape[1:])

        return hook

    modes = {m: m.training for m in model.modules()}
    handles = [m.register_forward_hook(make_hook(p))
               for p, m in modules.items()]
    try:
        model.eval()
        with torch.no_grad():
            model(*example_args, **example_kwargs)
    finally:
        for handle in handles:
            handle.remove()
        for m, mode in modes.items():
            m.training = mode
    missing = [p for p in modules if p not in shapes]
    if missing:
        raise RuntimeError(f'layers {missing} were not called by the forward '
                           f'of {type(model).__name__}')
    return shapes


def _check_tensor(output: Any, module: nn.Module) -> Tensor:
    if not isinstance(output, Tensor):
        raise TypeError(f'cannot mask the output of {type(module).__name__}:'
                        f' it is a {type(output).__name__}, not a Tensor')
    return output


class MaskHook:
    """Forward hook replacing a module's output by ``masknet(output)``.

    Args:
        masknet (nn.Module): The MaskNet (Eq. 6).
    """

    def __init__(self, masknet: nn.Module) -> None:
        self.masknet = masknet

    def __call__(self, module: nn.Module, args: Any, output: Any) -> Tensor:
        return self.masknet(_check_tensor(output, module))


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


def attach_masknet(model: nn.Module, path: str,
                   masknet: nn.Module) -> RemovableHandle:
    """Mask the output of ``model``'s layer ``path`` with ``masknet``.

    Args:
        model (nn.Module): The teacher (wrappers are unwrapped).
        path (str): Dotted module path.
        masknet (nn.Module): The MaskNet.

    Returns:
        RemovableHandle: Call ``.remove()`` to detach the MaskNet.
    """
    return resolve_layer(model, path).register_forward_hook(MaskHook(masknet))


def _pairs(masknets: MaskNetSpec) -> List[Tuple[str, nn.Module]]:
    if isinstance(masknets, Mapping):
        return list(masknets.items())
    return list(masknets)


@contextmanager
def masked(model: nn.Module,
           masknets: MaskNetSpec) -> Iterator[List[RemovableHandle]]:
    """Context manager applying MaskNets for the duration of a block.

    Every hook is removed on exit, also when the block raises.

    Args:
        model (nn.Module): The teacher.
        masknets (Mapping[str, nn.Module] | Iterable[tuple[str, nn.Module]]):
            ``path -> MaskNet`` (pairs allow several MaskNets per layer; they
            are applied in order).

    Yields:
        list[RemovableHandle]: The handles.
    """
    pairs = _pairs(masknets)
    validate_layer_paths(model, [p for p, _ in pairs])
    handles: List[RemovableHandle] = []
    try:
        for path, masknet in pairs:
            handles.append(attach_masknet(model, path, masknet))
        yield handles
    finally:
        for handle in handles:
            handle.remove()


@contextmanager
def chunked_masked(model: nn.Module,
                   masknets: MaskNetSpec,
                   stacked: bool = False) -> Iterator[List[RemovableHandle]]:
    """Install :class:`ChunkedMaskHook` s: MaskNet ``j`` masks chunk ``j``.

    Args:
        model (nn.Module): The base teacher.
        masknets (Iterable[tuple[str, nn.Module]]): The ``K`` (path, MaskNet)
            pairs, one per specialized teacher; paths may repeat.
        stacked (bool): Chunk ``j`` is masked by MaskNets ``0..j`` (in
            order) instead of ``j`` alone: the public release's stage 3,
            which leaves earlier hooks registered. Defaults to False.

    Yields:
        list[RemovableHandle]: One handle per distinct layer; all are
        removed on exit.
    """
    pairs = _pairs(masknets)
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
