"""Get the distilled student out of a run's checkpoint: its weights alone,
with the config that evaluates it (``tools/model_converters/
extract_student.py``).

A distiller checkpoint (MST-Distill or a baseline, ``members.<target>.*``)
and a member run (``MemberClassifier``, ``member.*``) both give the same
artifact: a weights-only ``.pth`` holding the student's ``state_dict`` in
the layout of its plain model and ``meta['cfg']``, the training config
with ``model`` replaced by that plain model (written beside it as ``.py``
too), so ``tools/test.py <that .py or configs/members/...py> OUT`` scores
it exactly as the full checkpoint.
"""
import ast
import os
import os.path as osp
from typing import Dict, Optional, Tuple

import torch

from mstkd.utils.checkpoint import fill_external_state
from mstkd.utils.checkpoint_match import (checkpoint_state_dict,
                                          read_checkpoint,
                                          training_model_cfg)
from mstkd.utils.errors import UserInputError


def _is_standalone(member_cfg: dict) -> bool:
    """A member that is a whole model (an mmengine ``BaseModel`` with its
    own data preprocessor, e.g. a FuseNet branch segmentor) is exported as
    it is; a network (``LeNet5``, ...) inside a ``MemberClassifier``."""
    from mmengine.model import BaseModel

    from mstkd.registry import MODELS
    from mstkd.utils import register_all_modules
    register_all_modules(init_default_scope=False)
    cls = MODELS.get(member_cfg['type'])
    if cls is None:
        raise UserInputError(
            f"unknown member type {member_cfg['type']!r} in the checkpoint's "
            'config.')
    return issubclass(cls, BaseModel)


def student_model_cfg(model_cfg: dict) -> Tuple[dict, str, str]:
    """``(plain model config, checkpoint key prefix, target)`` of the
    student of a training ``model`` config."""
    if model_cfg.get('type') == 'MemberClassifier':
        return model_cfg, 'member.', model_cfg['member'].get(
            'modality', 'member')
    members, target = model_cfg.get('members'), model_cfg.get('target')
    if not isinstance(members, dict) or target not in members:
        raise UserInputError(
            f"the checkpoint's model ({model_cfg.get('type')}) has no "
            "student: expected a distiller with 'members' and 'target' or "
            'a MemberClassifier.')
    member = dict(members[target])
    if _is_standalone(member):
        return member, f'members.{target}.', target
    return dict(type='MemberClassifier', member=member), \
        f'members.{target}.', target


def _replace_model(cfg_text: str, model_cfg: dict) -> str:
    """The config text with its ``model = ...`` statement replaced."""
    tree = ast.parse(cfg_text)
    lines = cfg_text.splitlines(keepends=True)
    for stmt in tree.body:
        if isinstance(stmt, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == 'model'
                for t in stmt.targets):
            start = sum(len(x) for x in lines[:stmt.lineno - 1])
            end = sum(len(x) for x in lines[:stmt.end_lineno - 1]) + \
                stmt.end_col_offset
            return (cfg_text[:start] + f'model = {model_cfg!r}' +
                    cfg_text[end:])
    raise UserInputError('the checkpoint config has no "model".')


def extract_student(path: str) -> Tuple[Dict[str, torch.Tensor], str, dict]:
    """``(state_dict, config text, info)`` of the student of the checkpoint
    at ``path`` (info: target, source keys prefix, model config)."""
    ckpt = read_checkpoint(path)
    model_cfg = training_model_cfg(ckpt)
    text = (ckpt.get('meta') or {}).get('cfg')
    if model_cfg is None or not isinstance(text, str):
        raise UserInputError(
            f'checkpoint "{path}" carries no training config '
            "(meta['cfg'] of an mmengine/mstkd run): cannot tell which "
            'weights are the student.')
    plain, prefix, target = student_model_cfg(model_cfg)
    # a slim checkpoint: the student from an earlier stage-end file if it
    # left it there (never the teachers / MaskNets)
    fill_external_state(ckpt, path,
                        wanted=lambda p: any(prefix.startswith(q) or
                                             q.startswith(prefix)
                                             for q in p))
    state = checkpoint_state_dict(ckpt)
    new_prefix = 'member.' if plain.get('type') == 'MemberClassifier' \
        else ''
    student = {new_prefix + k[len(prefix):]: v for k, v in state.items()
               if k.startswith(prefix)}
    if not student:
        raise UserInputError(
            f'checkpoint "{path}" has no "{prefix}*" weights (the student '
            f'"{target}" of its config).')
    info = dict(target=target, source_prefix=prefix, model=plain,
                epoch=ckpt.get('meta', {}).get('epoch'))
    return student, _replace_model(text, plain), info


def save_student(path: str, out: str,
                 config_out: Optional[str] = None) -> dict:
    """Write the student of ``path`` to ``out`` (weights-only loadable:
    tensors, strings and numbers) and its config to ``config_out``
    (default: ``out`` with ``.py``); returns sizes and paths."""
    state, text, info = extract_student(path)
    config_out = config_out or osp.splitext(out)[0] + '.py'
    os.makedirs(osp.dirname(osp.abspath(out)), exist_ok=True)
    meta = dict(cfg=text, target=info['target'], source=osp.abspath(path))
    if info['epoch'] is not None:
        meta['epoch'] = int(info['epoch'])
    tmp = out + '.tmp'
    torch.save(dict(state_dict=state, meta=meta), tmp)
    os.replace(tmp, out)
    with open(config_out, 'w') as f:
        f.write(text)
    return dict(out=out, config=config_out, target=info['target'],
                source_bytes=osp.getsize(path), out_bytes=osp.getsize(out),
                tensors=len(state),
                parameters=int(sum(v.numel() for v in state.values()
                                   if v.is_floating_point())))
