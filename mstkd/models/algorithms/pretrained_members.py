"""Members that start from a checkpoint: a member run or a distiller run.

Config (``pretrained`` of any distiller)::

    pretrained=dict(
        # a member run of configs/members/: MemberClassifier keys 'member.*'
        mm=dict(checkpoint='work_dirs/avdigits_fusion/best_CE_epoch_14.pth',
                config='configs/members/avdigits_fusion.py'),
        # the S1 end of an MST run: keys 'members.audio.*'
        audio='work_dirs/mst_avdigits_image/s1_end.pth')

A work dir instead of a file means its best checkpoint by validation loss
(``best_CE_epoch_*.pth``, the paper's selection), e.g.
``checkpoint='work_dirs/avdigits_fusion'``.

The key prefix is found from the checkpoint (``members.<member>.`` of a
distiller, ``member.`` of :class:`~mstkd.models.MemberClassifier`, or none:
a plain state dict) unless ``prefix`` is given; ``member`` names the member
inside a distiller checkpoint when it differs. Files are checked when the
distiller is built (a missing one fails at once, naming the command that
trains it) and loaded in ``init_weights()``, after the Runner's weight
initialisation and before ``load_from`` / ``--resume``.
"""
import glob
import os.path as osp
import re
from typing import Dict, List, Optional, Union

import torch.nn as nn
from mmengine.logging import print_log

from mstkd.utils.checkpoint import load_state_dict_file
from mstkd.utils.checkpoint_match import first_keys, key_mismatch
from mstkd.utils.errors import DataNotFoundError, UserInputError

_KEYS = ('checkpoint', 'config', 'prefix', 'member', 'strict')
_SHOWN = 12  # keys listed per kind in an error


def _train_hint(name: str, config: Optional[str]) -> str:
    if config:
        run = osp.splitext(osp.basename(config))[0]
        return (f'Train it with `python tools/train.py {config}` (the best '
                f'checkpoint is work_dirs/{run}/best_CE_epoch_*.pth)')
    return (f'Train member "{name}" first, e.g. `python tools/train.py '
            'configs/members/<dataset>_<modality>.py` (or the S1 of an MST '
            'run: its s1_end.pth), or fix the path')


def _listing(keys: List[str]) -> str:
    return first_keys(keys, _SHOWN)


def best_checkpoint(work_dir: str, name: str,
                    config: Optional[str] = None) -> str:
    """The best checkpoint by validation loss (``best_CE_epoch_*.pth``,
    the paper's model selection) of a member run's work dir."""
    found = sorted(glob.glob(osp.join(work_dir, 'best_CE_epoch_*.pth')),
                   key=lambda p: int(re.findall(r'(\d+)\.pth$', p)[0]))
    if found:
        return found[-1]
    present = sorted(osp.basename(p) for p in glob.glob(
        osp.join(work_dir, '*.pth')))
    raise DataNotFoundError(
        f'Pretrained member "{name}": the work dir {work_dir} has no best '
        f'checkpoint by validation loss (best_CE_epoch_*.pth); it holds '
        f'{present or "no checkpoints"}. {_train_hint(name, config)} with '
        f'--work-dir {work_dir}, or give the checkpoint file.')


class PretrainedMembers:
    """The ``pretrained`` option of a distiller.

    Args:
        pretrained (dict, optional): Member name -> checkpoint path or
            ``dict(checkpoint, config=None, prefix=None, member=None,
            strict=True)``.
        members (list[str]): The distiller's member names.
    """

    def __init__(self, pretrained: Optional[Dict[str, Union[str, dict]]],
                 members: List[str]):
        self.specs: Dict[str, dict] = {}
        for name, spec in (pretrained or {}).items():
            if name not in members:
                raise UserInputError(
                    f'pretrained names member "{name}", which is not a '
                    f'member; members: {members}.')
            spec = dict(checkpoint=spec) if isinstance(spec, str) else \
                dict(spec)
            unknown = sorted(set(spec) - set(_KEYS))
            if unknown or 'checkpoint' not in spec:
                raise UserInputError(
                    f'pretrained.{name} takes a path or a dict with keys '
                    f'{list(_KEYS)} (checkpoint required); got '
                    f'{sorted(spec)}.')
            if osp.isdir(spec['checkpoint']):
                spec['checkpoint'] = best_checkpoint(
                    spec['checkpoint'], name, spec.get('config'))
            if not osp.isfile(spec['checkpoint']):
                raise DataNotFoundError(
                    f'Pretrained checkpoint of member "{name}" not found: '
                    f'{spec["checkpoint"]}. '
                    f'{_train_hint(name, spec.get("config"))}.')
            self.specs[name] = spec

    def __bool__(self) -> bool:
        return bool(self.specs)

    def load(self, members: nn.ModuleDict) -> None:
        """Load every pretrained member in place."""
        for name, spec in self.specs.items():
            self._load_one(name, members[name], spec)

    @staticmethod
    def _select(state: dict, name: str, spec: dict) -> tuple:
        """The member's keys and the prefix they were found under."""
        prefix = spec.get('prefix')
        if prefix is None:
            source = spec.get('member') or name
            for candidate in (f'members.{source}.', 'member.'):
                if any(k.startswith(candidate) for k in state):
                    prefix = candidate
                    break
            else:
                prefix = ''
        selected = {k[len(prefix):]: v for k, v in state.items()
                    if k.startswith(prefix)}
        return selected, prefix

    def _load_one(self, name: str, module: nn.Module, spec: dict) -> None:
        path = spec['checkpoint']
        state = load_state_dict_file(path, f'checkpoint of member "{name}"')
        selected, prefix = self._select(state, name, spec)
        if not selected:
            raise UserInputError(
                f'Checkpoint {path} holds no weights under prefix '
                f'"{prefix}" for member "{name}"; its keys start with: '
                f'{_listing(sorted({k.split(".")[0] for k in state}))}. Set '
                f'pretrained.{name}.prefix (or .member for a distiller '
                'checkpoint).')
        fit = key_mismatch(module, selected)
        if fit.shape:
            mismatched = [f'{k}: checkpoint {c} vs member {m}'
                          for k, c, m in fit.shape]
            raise UserInputError(
                f'Checkpoint {path} (prefix "{prefix}") does not fit member '
                f'"{name}" ({type(module).__name__}): '
                f'{len(mismatched)} shape mismatch(es): '
                f'{_listing(mismatched)}. Check the member config against '
                'the run that wrote the file.')
        missing, unexpected = fit.missing, fit.unexpected
        if (missing or unexpected) and spec.get('strict', True):
            lines = [f'Checkpoint {path} (prefix "{prefix}") does not fit '
                     f'member "{name}" ({type(module).__name__}):']
            if missing:
                lines.append(f'  missing keys ({len(missing)}): '
                             f'{_listing(missing)}')
            if unexpected:
                lines.append(f'  unexpected keys ({len(unexpected)}): '
                             f'{_listing(unexpected)}')
            lines.append(f'Check the member config against the run that '
                         f'wrote the file, or set pretrained.{name}.'
                         'strict=False to load the matching keys only.')
            raise UserInputError('\n'.join(lines))
        note = '' if not (missing or unexpected) else \
            f' ({len(missing)} missing, {len(unexpected)} unexpected keys)'
        print_log(f'Member "{name}" loaded from {path} (prefix "{prefix}")'
                  f'{note}', logger='current')
