"""Recorders: named tensors of a distillation step, by ``'member:path'``.

A record key names what a loss (or a connector) reads:

- ``'image:'``: the logits (the output) of member ``image``;
- ``'mm:fusion.fc1'``: the output of layer ``fusion.fc1`` of member ``mm``
  (a forward hook records it; the member's output is not changed);
- ``'audio:fc@input'``: the input of layer ``fc`` (the pooled feature the
  head receives);
- any other key (no colon) is produced elsewhere: the task (``'labels'``,
  ``'sample_ids'``), a connector (by its name) or the algorithm (e.g. MST's
  ``'specialized_logits'``).

Paths are validated when the distiller is built, with the list of valid
paths on a typo (see :mod:`.layer_paths`).
"""
from contextlib import contextmanager
from typing import Dict, Iterable, Iterator, List, Optional, Tuple

import torch.nn as nn
from torch import Tensor

from .layer_paths import hooked_tensor, validate_layer_paths


def parse_record_key(key: str) -> Optional[Tuple[str, str]]:
    """``'mm:fusion.fc1'`` -> ``('mm', 'fusion.fc1')``, ``'image:'`` ->
    ``('image', '')``; None for a key that does not name a member."""
    if ':' not in key:
        return None
    member, path = key.split(':', 1)
    return member, path


def record_key(member: str, path: str = '') -> str:
    """The key of a member's layer (``path``) or logits (``''``)."""
    return f'{member}:{path}'


class MemberRecorder:
    """Records layer outputs of one member during its forward.

    Args:
        member (str): The member's name (the key prefix).
        paths (Iterable[str]): Dotted layer paths to record; ``''`` (the
            member's output) is recorded by the caller, not by a hook.
    """

    def __init__(self, member: str, paths: Iterable[str]):
        self.member = member
        self.paths: List[str] = sorted({p for p in paths if p})

    def validate(self, model: nn.Module) -> None:
        """Fail with the valid paths when one does not exist."""
        validate_layer_paths(model, self.paths)

    @contextmanager
    def record(self, model: nn.Module) -> Iterator[Dict[str, Tensor]]:
        """Hooks recording every path's output (its first call) into the
        yielded dict, keyed ``'member:path'``; removed on exit."""
        records: Dict[str, Tensor] = {}
        modules = validate_layer_paths(model, self.paths)

        def make_hook(key: str):

            def hook(module, args, output):
                records.setdefault(key, hooked_tensor(key, args, output))

            return hook

        handles = [
            module.register_forward_hook(
                make_hook(record_key(self.member, path)))
            for path, module in modules.items()
        ]
        try:
            yield records
        finally:
            for handle in handles:
                handle.remove()
