"""Does a checkpoint fit the model of a test config? (``tools/test.py``)

mmengine's Runner loads ``load_from`` non-strictly: a checkpoint of another
model (every key missing) is scored as a random model, and an MST-Distill
checkpoint of the image student tested with the audio config scores its
audio member. :func:`check_checkpoint_fits` compares, before testing,

- the student (``model.target``) of the checkpoint's training config (mmengine
  saves the config text as ``meta['cfg']``; read here without executing it)
  with the test config's, and
- the checkpoint's keys and shapes with the model's, after the model's own
  load-time filtering: parts a distiller builds only for training (MaskNets,
  connectors: see ``ConfigurableDistiller._skip_unbuilt``) are legitimately
  unused at test time and are not counted;

and fails with a :class:`~mstkd.utils.errors.UserInputError` that lists the
first mismatched keys and the likely cause, or, with ``strict=False``
(``tools/test.py --non-strict``), logs the same as a warning.
"""
import ast
import logging
import os.path as osp
import pickle
import re
from typing import Dict, List, NamedTuple, Optional, Tuple

import torch
import torch.nn as nn
from mmengine.logging import print_log

from .checkpoint import (EXTERNAL_STATE, PARTIAL_STATE, fill_external_state,
                         key_in, needed_by)
from .errors import DataNotFoundError, UserInputError

SHOWN = 5  # keys listed per kind


class KeyMismatch(NamedTuple):
    """Keys of a state dict that do not fit a model."""
    missing: List[str]  # in the model, not in the checkpoint
    unexpected: List[str]  # in the checkpoint, not in the model
    shape: List[Tuple[str, tuple, tuple]]  # key, checkpoint, model shape

    def __bool__(self) -> bool:
        return bool(self.missing or self.unexpected or self.shape)


def read_checkpoint(path: str) -> dict:
    """The checkpoint file as a dict (weights-only loading), with the file's
    name in every error."""
    if not osp.isfile(path):
        raise DataNotFoundError(f'Checkpoint not found: {path}')
    from mmengine.runner.checkpoint import CheckpointLoader
    try:
        ckpt = CheckpointLoader.load_checkpoint(path, map_location='cpu')
    except (RuntimeError, pickle.UnpicklingError, EOFError, ValueError,
            OSError) as e:
        raise UserInputError(
            f'cannot read checkpoint "{path}" (expected a torch.save file '
            f'of an mstkd/mmengine run): {e}') from e
    if not isinstance(ckpt, dict):
        raise UserInputError(f'checkpoint "{path}" holds a '
                             f'{type(ckpt).__name__}, not a state dict.')
    return ckpt


def checkpoint_state_dict(ckpt: dict) -> Dict[str, torch.Tensor]:
    """The model weights of a checkpoint (``state_dict`` of an mmengine
    checkpoint, or the dict itself), a leading ``module.`` removed (as the
    Runner's ``revise_keys``)."""
    state = ckpt.get('state_dict', ckpt)
    if not isinstance(state, dict):
        state = ckpt
    return {re.sub(r'^module\.', '', k): v for k, v in state.items()}


# -- the training config of a checkpoint --------------------------------------
def _literal(node: ast.AST):
    """A config value from its AST, without executing anything: literals,
    ``dict(...)`` calls, lists/tuples; anything else is None."""
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and \
            node.func.id == 'dict' and not node.args:
        return {kw.arg: _literal(kw.value) for kw in node.keywords
                if kw.arg is not None}
    if isinstance(node, ast.Dict):
        return {_literal(k): _literal(v)
                for k, v in zip(node.keys, node.values) if k is not None}
    if isinstance(node, (ast.List, ast.Tuple)):
        return [_literal(e) for e in node.elts]
    try:
        return ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError,
            RecursionError):
        return None


def training_model_cfg(ckpt: dict) -> Optional[dict]:
    """``model`` of the config the checkpoint was trained with (from the
    config text mmengine stores as ``meta['cfg']``), or None when the
    checkpoint carries no readable config (e.g. a plain state dict)."""
    text = (ckpt.get('meta') or {}).get('cfg')
    if not isinstance(text, str):
        return None
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        return None
    for stmt in tree.body:
        if isinstance(stmt, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == 'model'
                for t in stmt.targets):
            model = _literal(stmt.value)
            return model if isinstance(model, dict) else None
    return None


def training_config_file(path: str, ckpt: dict) -> Optional[str]:
    """The copy of the training config that mmengine writes to the work dir
    (``<work_dir>/<config name>.py``) next to the checkpoint, if present."""
    name = (ckpt.get('meta') or {}).get('experiment_name')
    if not isinstance(name, str):
        return None
    name = re.sub(r'_\d{8}_\d{6}$', '', name)
    candidate = osp.join(osp.dirname(osp.abspath(path)), name + '.py')
    return candidate if osp.isfile(candidate) else None


# -- keys ---------------------------------------------------------------------
def key_mismatch(model: nn.Module,
                 state: Dict[str, torch.Tensor]) -> KeyMismatch:
    """Load ``state`` into ``model`` non-strictly and report what did not
    fit.

    Loading goes through ``model.load_state_dict``, so the model's
    load-state-dict pre-hooks apply (a distiller drops the weights of parts
    it has not built, e.g. the MaskNets at test time): those keys are not
    reported. Entries whose shapes differ are not loaded and are reported
    as shape mismatches. The model holds the checkpoint's weights afterwards
    (where they fit), as after the Runner's own non-strict load.
    """
    own = model.state_dict()
    shape = [(k, tuple(v.shape), tuple(own[k].shape))
             for k, v in state.items()
             if k in own and isinstance(v, torch.Tensor) and
             tuple(v.shape) != tuple(own[k].shape)]
    skipped = {k for k, _, _ in shape}
    result = model.load_state_dict(
        {k: v for k, v in state.items() if k not in skipped}, strict=False)
    return KeyMismatch(
        missing=[k for k in result.missing_keys if k not in skipped],
        unexpected=list(result.unexpected_keys), shape=shape)


def first_keys(keys: List[str], shown: int = SHOWN) -> str:
    """``a, b, c (+N more)``: the first ``shown`` keys of a listing."""
    more = f' (+{len(keys) - shown} more)' if len(keys) > shown else ''
    return ', '.join(keys[:shown]) + more


def describe_mismatch(mismatch: KeyMismatch) -> str:
    """``N missing keys: a, b, ...; M unexpected keys: ...; shape
    mismatch: k (checkpoint [..], model [..])``."""
    parts = []
    if mismatch.missing:
        parts.append(f'{len(mismatch.missing)} model keys missing from the '
                     f'checkpoint: {first_keys(mismatch.missing)}')
    if mismatch.unexpected:
        parts.append(f'{len(mismatch.unexpected)} unexpected checkpoint '
                     f'keys: {first_keys(mismatch.unexpected)}')
    if mismatch.shape:
        shapes = [f'{k} (checkpoint {list(c)}, model {list(m)})'
                  for k, c, m in mismatch.shape]
        parts.append(f'{len(mismatch.shape)} shape mismatches: '
                     f'{first_keys(shapes)}')
    return '; '.join(parts)


def _prefixes(keys) -> set:
    return {k.split('.', 1)[0] for k in keys}


def likely_cause(ckpt_keys: List[str], model_keys: List[str],
                 train_model: Optional[dict], config_file: Optional[str],
                 mismatch: KeyMismatch) -> str:
    """A sentence on what the checkpoint is and how to test it."""
    trained = ''
    if train_model and train_model.get('type'):
        trained = f' (trained as {train_model["type"]}'
        if train_model.get('target'):
            trained += f", target '{train_model['target']}'"
        trained += ')'
    saved = (f' (its training config was saved as {config_file})'
             if config_file else '')
    ckpt_top, model_top = _prefixes(ckpt_keys), _prefixes(model_keys)
    if 'members' in ckpt_top and 'member' in model_top:
        target = (train_model or {}).get('target') or '<target>'
        kind = 'an MST-Distill' if {'masknets', 'gate'} & ckpt_top \
            else 'a distillation'
        return (f'this is {kind} checkpoint{trained}: test it with its '
                f'distillation config{saved}, or extract the student (its '
                f"'members.{target}.*' weights, renamed 'member.*') for "
                'this member config.')
    if 'member' in ckpt_top and 'members' in model_top:
        return (f'this is a single-member checkpoint{trained}: test it with '
                f'its member config (configs/members/...){saved}, or give '
                'it to a distiller as model.pretrained.')
    if mismatch.shape and not (mismatch.missing or mismatch.unexpected):
        return ('the architectures differ (e.g. num_classes or channel '
                f'widths): test it with the config it was trained with'
                f'{saved}.')
    return (f'the checkpoint was trained with another model{trained}: test '
            f'it with the config it was trained with{saved}.')


def _report(problems: List[str], strict: bool) -> None:
    if not problems:
        return
    if strict:
        raise UserInputError(' '.join(problems) +
                             ' (--non-strict tests it anyway.)')
    print_log('--non-strict: testing anyway; ' + ' '.join(problems),
              logger='current', level=logging.WARNING)


def check_target(ckpt: dict, model_cfg: dict, path: str,
                 strict: bool = True) -> None:
    """Fail (strict) or warn when the checkpoint's training config
    distilled another student (``model.target``) than the test config."""
    _report(target_problem(ckpt, model_cfg, path), strict)


def slim_filled(ckpt: dict, path: str,
                model: Optional[nn.Module] = None) -> dict:
    """``ckpt`` with the weights a slim checkpoint leaves to earlier
    stage-end files filled back (in place,
    :func:`~mstkd.utils.checkpoint.fill_external_state`); with ``model``,
    only those the model has (not the MaskNets a test model does not
    build)."""
    if (ckpt.get('meta') or {}).get(EXTERNAL_STATE):
        fill_external_state(ckpt, path, wanted=None if model is None else
                            needed_by(model.state_dict()))
    return ckpt


def check_keys(model: nn.Module, ckpt: dict, path: str,
               strict: bool = True) -> None:
    """Fail (strict) or warn when the checkpoint's weights do not fit
    ``model`` (see :func:`key_mismatch`); the model holds the fitting
    weights afterwards. A slim checkpoint's weights kept in earlier
    stage-end files are read from there; the parts a best checkpoint
    leaves out by design (``meta['partial_state']``: the teachers, the
    MaskNets) are not reported missing."""
    state = checkpoint_state_dict(slim_filled(ckpt, path, model))
    mismatch = key_mismatch(model, state)
    dropped = ((ckpt.get('meta') or {}).get(PARTIAL_STATE) or {}).get(
        'dropped', [])
    if dropped:  # a best checkpoint: the student (and its stage's parts)
        mismatch = mismatch._replace(missing=[
            k for k in mismatch.missing if not key_in(k, dropped)])
    if not mismatch:
        return
    cause = likely_cause(list(state), list(model.state_dict()),
                         training_model_cfg(ckpt),
                         training_config_file(path, ckpt), mismatch)
    _report([f'checkpoint "{path}" does not fit the model of the config '
             f'({describe_mismatch(mismatch)}); likely cause: {cause}'],
            strict)


def check_checkpoint_fits(model: nn.Module, model_cfg: dict, path: str,
                          strict: bool = True,
                          ckpt: Optional[dict] = None) -> None:
    """Fail (strict) or warn when the checkpoint at ``path`` does not fit
    ``model`` (built from ``model_cfg``, the test config's ``model``):
    :func:`check_target`, then :func:`check_keys`.

    Args:
        model (nn.Module): The test model (unwrapped). It is loaded with the
            checkpoint's fitting weights.
        model_cfg (dict): The test config's ``model``.
        path (str): The checkpoint file.
        strict (bool): Raise :class:`UserInputError` on a mismatch; False
            logs it as a warning instead.
        ckpt (dict, optional): The already read checkpoint.

    Raises:
        UserInputError: (strict) another student (``target``) than the
            test config's, or keys / shapes that do not fit.
    """
    ckpt = read_checkpoint(path) if ckpt is None else ckpt
    check_target(ckpt, model_cfg, path, strict)
    check_keys(model, ckpt, path, strict)


def target_problem(ckpt: dict, model_cfg: dict, path: str) -> List[str]:
    """A message (in a list) when the checkpoint's training config
    distilled another student than ``model_cfg`` tests; else ``[]``."""
    train_model = training_model_cfg(ckpt)
    trained = (train_model or {}).get('target')
    tested = (model_cfg or {}).get('target')
    if not trained or not tested or trained == tested:
        return []
    saved = training_config_file(path, ckpt)
    saved = f' (saved as {saved})' if saved else ''
    return [f'checkpoint "{path}" was trained for target \'{trained}\' but '
            f'the config tests target \'{tested}\': it would score the '
            f'\'{tested}\' member of a run that distilled \'{trained}\'. '
            f'Test it with the config it was trained with{saved}.']
