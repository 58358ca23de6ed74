"""Reading a local checkpoint file into a state dict, with clear errors."""
import os.path as osp
import pickle
import re
from typing import Dict

from torch import Tensor

from .errors import DataNotFoundError, UserInputError


def load_state_dict_file(path: str, what: str = 'checkpoint',
                         layout_help: str = '') -> Dict[str, Tensor]:
    """Read a checkpoint file (weights-only) into a flat state dict.

    Goes through mmengine's checkpoint loader, so the safe weights-only
    loading of :mod:`mstkd.utils.compat` applies (nothing in the file is
    executed).

    Args:
        path (str): Local file: ``torch.save`` of a state dict, or an
            mmengine checkpoint (``state_dict``) or a ``{'model': ...}``
            wrapper.
        what (str): What the file holds, for error messages.
        layout_help (str): Appended to error messages (the expected
            layout).

    Returns:
        dict[str, Tensor]: The state dict (``state_dict`` / ``model``
        wrappers and a leading ``module.`` removed).

    Raises:
        UserInputError: For a URL (nothing is downloaded) or a file that
            cannot be read or does not hold a state dict.
        DataNotFoundError: If the file does not exist.
    """
    hint = f' {layout_help}' if layout_help else ''
    if re.match(r'^[a-z][a-z0-9+.-]*://', str(path)):
        raise UserInputError(
            f'{what} "{path}" is a URL; mstkd never downloads weights. '
            'Download the file yourself and give its local path.' + hint)
    if not osp.isfile(path):
        raise DataNotFoundError(f'{what} file "{path}" not found.' + hint)
    from mmengine.runner.checkpoint import CheckpointLoader
    try:
        ckpt = CheckpointLoader.load_checkpoint(path, map_location='cpu')
    except (RuntimeError, pickle.UnpicklingError, EOFError, ValueError) as e:
        # a truncated / non-torch file, or pickled objects that a
        # weights-only load refuses
        raise UserInputError(f'cannot read {what} "{path}": {e}.' +
                             hint) from e
    for key in ('state_dict', 'model'):
        if isinstance(ckpt, dict) and isinstance(ckpt.get(key), dict):
            ckpt = ckpt[key]
            break
    if not isinstance(ckpt, dict) or not all(
            isinstance(v, Tensor) for v in ckpt.values()):
        raise UserInputError(f'{what} "{path}" does not hold a state dict '
                             'of tensors.' + hint)
    return {(k[len('module.'):] if k.startswith('module.') else k): v
            for k, v in ckpt.items()}
