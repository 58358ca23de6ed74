"""Dotted layer paths into a member: resolution, validation, dry-forward
shapes.

A layer path is a name from ``model.named_modules()`` (``'fusion.fc1'``,
``'image_trunk.conv2'``, ``'layers.0'``), naming that layer's output; with
the suffix ``'@input'`` (``'fc@input'``) it names the layer's (first)
input, e.g. the pooled feature a classifier head receives. A wrong path
fails with the model class, close matches and the list of every valid path.
"""
import difflib
from typing import Dict, Iterable, Sequence

import torch
import torch.nn as nn
from torch import Tensor

from mstkd.utils.errors import UserInputError
from ..wrappers import unwrap_model


class LayerPathError(UserInputError, ValueError):
    """A layer path that does not name a submodule of the model."""


#: Suffix of a layer path naming the layer's input instead of its output.
INPUT_SUFFIX = '@input'


def split_layer_path(path: str):
    """``'fc@input'`` -> ``('fc', True)``, ``'fc'`` -> ``('fc', False)``."""
    if path.endswith(INPUT_SUFFIX):
        return path[:-len(INPUT_SUFFIX)], True
    return path, False


def hooked_tensor(path: str, args: tuple, output):
    """What a forward hook on ``path``'s module records: its output, or its
    first positional input for an ``'@input'`` path."""
    return args[0] if split_layer_path(path)[1] else output


def valid_layer_paths(model: nn.Module) -> list:
    """Every dotted submodule path of ``model`` (wrappers unwrapped)."""
    return [name for name, _ in unwrap_model(model).named_modules() if name]


def _layer_path_message(model: nn.Module, bad_paths: Sequence[str]) -> str:
    valid = valid_layer_paths(model)
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
            found[path] = _get_submodule(model, split_layer_path(path)[0])
        except AttributeError:
            bad.append(path)
    if bad:
        raise LayerPathError(_layer_path_message(model, bad))
    return found


def infer_feature_shapes(model: nn.Module, paths: Iterable[str],
                         *example_args, **example_kwargs
                         ) -> Dict[str, torch.Size]:
    """Output shapes (batch dim dropped) of layers, by a dry forward.

    Runs ``model(*example_args, **example_kwargs)`` once in eval mode under
    ``torch.no_grad()`` with temporary forward hooks; the hooks are removed
    and every submodule's train/eval flag is restored afterwards. A module
    called several times reports its first call. The empty path ``''``
    stands for the model's own output.

    Args:
        model (nn.Module): The model (wrappers are unwrapped).
        paths (Iterable[str]): Dotted module paths.
        *example_args: Positional inputs of the forward.
        **example_kwargs: Keyword inputs of the forward.

    Returns:
        dict[str, torch.Size]: ``path -> output.shape[1:]``.
    """
    model = unwrap_model(model)
    paths = list(paths)
    modules = validate_layer_paths(model, [p for p in paths if p])
    shapes: Dict[str, torch.Size] = {}

    def make_hook(path: str):

        def hook(module, args, output):
            value = hooked_tensor(path, args, output)
            if not isinstance(value, Tensor):
                raise TypeError(f'layer {path!r} gives '
                                f'{type(value).__name__}, not a Tensor')
            shapes.setdefault(path, value.shape[1:])

        return hook

    modes = {m: m.training for m in model.modules()}
    handles = [m.register_forward_hook(make_hook(p))
               for p, m in modules.items()]
    try:
        model.eval()
        with torch.no_grad():
            output = model(*example_args, **example_kwargs)
    finally:
        for handle in handles:
            handle.remove()
        for m, mode in modes.items():
            m.training = mode
    if '' in paths:
        shapes[''] = output.shape[1:]
    missing = [p for p in paths if p not in shapes]
    if missing:
        raise RuntimeError(f'layers {missing} were not called by the forward '
                           f'of {type(model).__name__}')
    return shapes
