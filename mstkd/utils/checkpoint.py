"""Reading a local checkpoint file into a state dict, with clear errors."""
import os.path as osp
import pickle
import re
from typing import Dict, Optional

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


# -- slim checkpoints: weights held once, by an earlier stage-end file --------
#: ``meta`` entry of a checkpoint that leaves out weights an earlier
#: stage-end checkpoint of the same run holds:
#: ``{relative path: dict(prefixes=[...], keys=N, checksum=[s, s2])}``.
EXTERNAL_STATE = 'external_state'
#: ``meta`` entry of a checkpoint that holds part of the model only (a best
#: checkpoint: the student and what its stage trains):
#: ``dict(kind='best', dropped=[prefixes], kept=[prefixes])``.
PARTIAL_STATE = 'partial_state'


def _load_quietly(path: str) -> dict:
    """A checkpoint file through mmengine's loader (the safe weights-only
    loading of :mod:`mstkd.utils.compat`), on the CPU, without its "Loads
    checkpoint" line: for the files read internally (slim references,
    forks), not the one a user asked for."""
    from mmengine.runner.checkpoint import CheckpointLoader
    return CheckpointLoader.load_checkpoint(path, map_location='cpu',
                                            logger='silent')


def key_in(key: str, prefixes) -> bool:
    """Whether a state-dict key is one of ``prefixes`` (a prefix ending in
    ``.`` covers a module, any other entry is one key)."""
    return any(key == p or (p.endswith('.') and key.startswith(p)) or
               p == '' for p in prefixes)


def needed_by(keys):
    """``wanted`` of :func:`fill_external_state` for a model with state
    keys ``keys``: read a referenced file only for prefixes it has."""
    keys = set(keys)
    return lambda prefixes: any(key_in(k, prefixes) for k in keys)


def state_checksum(state: Dict[str, Tensor], keys) -> list:
    """``[sum, sum of squares]`` (float64) of the tensors ``keys`` of
    ``state``: a cheap fingerprint that a referenced file still holds the
    weights it held when the reference was written."""
    import torch
    total = torch.zeros(2, dtype=torch.float64)
    for key in sorted(keys):
        value = state[key].detach().cpu().double()
        total += torch.stack([value.sum(), value.pow(2).sum()])
    return [float(v) for v in total]


def group_prefixes(assignment: Dict[str, Optional[str]]) -> Dict[str, list]:
    """``{key: holder or None}`` (every key of a state dict) -> ``{holder:
    [prefixes]}``: the shortest module prefixes (``'members.audio.'``)
    whose keys all have that one holder; a key of a module that mixes
    holders is listed alone."""
    tree: dict = {}
    for key, holder in assignment.items():
        node = tree
        for part in key.split('.'):
            node = node.setdefault(part, {})
        node[None] = holder  # a leaf

    def holders(node) -> set:
        found = {node[None]} if None in node else set()
        for part, child in node.items():
            if part is not None:
                found |= holders(child)
        return found

    out: Dict[str, list] = {}

    def walk(node, path):
        for part, child in node.items():
            if part is None:
                continue
            name = f'{path}{part}'
            found = holders(child)
            if len(found) == 1 and None not in found and \
                    next(iter(found)) is not None:
                leaf_only = set(child) == {None}
                out.setdefault(next(iter(found)), []).append(
                    name if leaf_only else name + '.')
            elif found != {None}:
                if None in child and child[None] is not None:
                    out.setdefault(child[None], []).append(name)
                walk(child, name + '.')

    walk(tree, '')
    return {h: sorted(p) for h, p in out.items()}


def fill_external_state(ckpt: dict, path: str, wanted=None,
                        _depth: int = 0) -> Dict[str, list]:
    """Put back, in place, the weights a slim checkpoint leaves to earlier
    stage-end files (``meta['external_state']``, paths relative to the
    checkpoint's own directory).

    Args:
        ckpt (dict): The checkpoint (its ``state_dict`` is completed).
        path (str): Its file (the references are relative to its folder).
        wanted (callable, optional): ``wanted(prefixes) -> bool``: read a
            referenced file only when its prefixes are needed (e.g. not the
            MaskNets that ``tools/test.py`` does not build). None: all.

    Returns:
        dict: ``{absolute path of each file read: prefixes taken}``.

    Raises:
        DataNotFoundError: A referenced file is gone (one line naming it
            and what it holds).
        UserInputError: It no longer holds those weights (overwritten).
    """
    refs = (ckpt.get('meta') or {}).get(EXTERNAL_STATE) or {}
    state = ckpt.get('state_dict')
    used: Dict[str, list] = {}
    if not refs or not isinstance(state, dict):
        return used
    base = osp.dirname(osp.abspath(path))
    for rel, ref in refs.items():
        prefixes = list(ref['prefixes'])
        if wanted is not None and not wanted(prefixes):
            continue
        ref_path = osp.normpath(osp.join(base, rel))
        what = ', '.join(p.rstrip('.') for p in prefixes)
        if not osp.isfile(ref_path):
            raise DataNotFoundError(
                f'{path} keeps the {what} weights in {ref_path} (saved once '
                f'there: they no longer train), which is gone; restore it '
                f'or use a checkpoint that holds them.')
        try:
            other = _load_quietly(ref_path)
        except (RuntimeError, pickle.UnpicklingError, EOFError,
                ValueError) as e:
            raise UserInputError(
                f'cannot read {ref_path} (it holds the {what} weights of '
                f'{path}): {e}') from e
        if _depth < 4:
            fill_external_state(other, ref_path, wanted=lambda p: True,
                                _depth=_depth + 1)
        source = {(k[len('module.'):] if k.startswith('module.') else k): v
                  for k, v in other.get('state_dict', {}).items()}
        taken = [k for k in source if key_in(k, prefixes)]
        if len(taken) != ref.get('keys', len(taken)) or (
                'checksum' in ref and not _close(
                    state_checksum(source, taken), ref['checksum'])):
            raise UserInputError(
                f'{ref_path} no longer holds the {what} weights that {path} '
                'refers to (overwritten, e.g. by another run in the same '
                'work dir); resume from a checkpoint written after it, or '
                'train in a new work dir.')
        for key in taken:  # (filled already: the same weights)
            state.setdefault(key, source[key])
        used[ref_path] = prefixes
    return used


def _close(a, b, rel: float = 1e-9) -> bool:
    return all(abs(x - y) <= rel * max(1.0, abs(x), abs(y))
               for x, y in zip(a, b))


def load_full_state_dict(path: str) -> Dict[str, Tensor]:
    """The whole state dict of a checkpoint file, weights a slim checkpoint
    leaves to earlier stage-end files filled back
    (:func:`fill_external_state`)."""
    if not osp.isfile(path):
        raise DataNotFoundError(f'checkpoint file "{path}" not found.')
    ckpt = _load_quietly(path)
    fill_external_state(ckpt, path)
    return dict(ckpt['state_dict'])


# -- forking a run at a stage boundary ----------------------------------------
def link_or_copy(src: str, dst: str) -> bool:
    """``dst`` as a hard link to ``src`` (checkpoint files are never
    rewritten in place), or a copy where the file system has no hard
    links; returns whether it is a link."""
    import os
    import shutil
    try:
        os.link(src, dst)
        return True
    except OSError:
        shutil.copy2(src, dst)
        return False


def fork_stage_end(src_dir: str, stage: str, dst_dir: str) -> str:
    """Start a new run from another run's ``{stage}_end.pth``.

    The stages after ``stage`` then run with the new run's config (e.g. S3
    with another routing), from the very state (weights, RNG, message hub)
    the source run had at the end of ``stage``: every such run shares the
    source's earlier stages exactly, so a comparison of later-stage options
    is paired. ``dst_dir`` gets the stage-end file (and the earlier
    stage-end files its slim weights live in, hard-linked when possible)
    and a ``last_checkpoint`` naming it; ``tools/train.py CONFIG --work-dir
    DST --resume`` continues from there. The optimizer state of the stages
    after ``stage`` is left out (those stages have not stepped; their
    parameters may differ in the new config, e.g. no GateNet for
    ``routing='mean'``); ``meta['forked_from']`` records the source.

    Args:
        src_dir (str): Work dir of the source run (holds
            ``{stage}_end.pth``).
        stage (str): The last stage to take from the source, e.g. 's2'.
        dst_dir (str): Work dir of the new run (created; must not hold a
            ``last_checkpoint`` yet).

    Returns:
        str: The new run's copy of ``{stage}_end.pth``.
    """
    import os

    import torch

    src = osp.join(src_dir, f'{stage}_end.pth')
    if not osp.isfile(src):
        import glob
        have = sorted(osp.basename(p) for p in
                      glob.glob(osp.join(src_dir, '*_end.pth')))
        raise DataNotFoundError(
            f'cannot fork "{src_dir}" after stage {stage}: {src} does not '
            f'exist (stage-end files there: {have or "none"}); train the '
            f'source run through {stage} first.')
    if osp.isfile(osp.join(dst_dir, 'last_checkpoint')):
        raise UserInputError(
            f'"{dst_dir}" already holds a run (last_checkpoint); resume it '
            'or fork into an empty work dir.')
    ckpt = _load_quietly(src)
    meta = ckpt.setdefault('meta', {})
    stages = list(meta.get('stage_epochs') or [])
    if stage not in stages:
        raise UserInputError(f'{src} is not a stage-end checkpoint of '
                             f'stage {stage} (stages: {stages}).')
    later = stages[stages.index(stage) + 1:]
    for key in ('optimizer', 'param_schedulers'):
        if isinstance(ckpt.get(key), dict):
            for name in later:
                ckpt[key].pop(name, None)
    meta['forked_from'] = osp.abspath(src)
    os.makedirs(dst_dir, exist_ok=True)
    # the files the slim weights live in, and the files those refer to
    todo = list(meta.get(EXTERNAL_STATE) or {})
    while todo:
        name = todo.pop()
        if osp.dirname(name):
            raise UserInputError(f'{src}: external state "{name}" is not '
                                 'in the run\'s folder; cannot fork it.')
        target = osp.join(dst_dir, name)
        if osp.exists(target):
            continue
        if not osp.isfile(osp.join(src_dir, name)):
            raise DataNotFoundError(
                f'{src} keeps weights in {osp.join(src_dir, name)}, which '
                'is gone; cannot fork it.')
        link_or_copy(osp.join(src_dir, name), target)
        other = _load_quietly(target)
        todo += list((other.get('meta') or {}).get(EXTERNAL_STATE) or {})
    dst = osp.join(dst_dir, f'{stage}_end.pth')
    tmp = dst + '.tmp'
    torch.save(ckpt, tmp)
    os.replace(tmp, dst)
    tmp = osp.join(dst_dir, 'last_checkpoint.tmp')
    with open(tmp, 'w') as f:
        f.write(osp.abspath(dst))
    os.replace(tmp, osp.join(dst_dir, 'last_checkpoint'))
    return dst
