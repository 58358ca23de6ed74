"""What every distillation algorithm of mstkd shares.

Members by name (the multimodal model and one unimodal model per modality),
the target student, the task (classification or segmentation), pretrained
members and training stages. A stage declares the modules it trains; every
other part is frozen (``requires_grad=False``) and kept in eval mode, also
when the runner calls ``model.train()``. ``predict`` evaluates the student,
so the val/test loops report it.
"""
from collections import OrderedDict
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
from mmengine.model import BaseModel, ModuleDict

from mstkd.registry import MODELS, TASK_UTILS
from mstkd.utils.errors import UserInputError
from .pretrained_members import PretrainedMembers

Inputs = Union[torch.Tensor, Dict[str, torch.Tensor]]


def parse_stages(stages: Optional[dict],
                 default: dict) -> 'OrderedDict[str, dict]':
    """``stages`` config -> ordered ``name -> dict(trainable, title, ...)``.

    A stage is ``dict(trainable=[module paths], title=str, ...)``; extra
    keys (e.g. ``losses``) are kept for the algorithm.
    """
    stages = default if not stages else stages
    parsed = OrderedDict()
    for name, spec in stages.items():
        spec = dict(spec or {})
        trainable = spec.get('trainable', [])
        if isinstance(trainable, str):
            trainable = [trainable]
        spec['trainable'] = list(trainable)
        spec.setdefault('title', f'stage {name}')
        parsed[name] = spec
    return parsed


class BaseDistiller(BaseModel):
    """Members, the student, the task and the stages of a distiller.

    Args:
        members (dict): Member name -> network config. Every network maps
            the batch's ``inputs`` (the dict of modalities, or one tensor
            for dense tasks) to logits; a network reads the modalities in
            its ``modalities`` attribute.
        target (str): The student member (the deployed modality).
        task (dict, optional): The task component. Defaults to
            ``dict(type='ClsTask')``; ``dict(type='SegTask',
            ignore_index=255)`` for segmentation.
        pretrained (dict, optional): Members starting from a checkpoint (see
            :mod:`.pretrained_members`).
        stages (dict, optional): Stage name -> ``dict(trainable=[...],
            title=...)``. Trainable entries are module paths of the
            distiller: ``'student'``, ``'members'``, ``'members.<name>'``
            or a component (``'connectors.<name>'``, ``'gate'``, ...).
            Defaults to one stage ``'train'`` training the student.
        data_preprocessor (dict, optional): Defaults to mmengine's.
        init_cfg (dict, optional): Weight initialisation config.
    """

    #: Attributes that subclasses add (possibly lazily, after a dry
    #: forward); stage ``trainable`` entries may start with these names.
    components: Tuple[str, ...] = ()

    def __init__(self,
                 members: Dict[str, dict],
                 target: str,
                 task: Optional[dict] = None,
                 pretrained: Optional[dict] = None,
                 stages: Optional[dict] = None,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None):
        super().__init__(data_preprocessor=data_preprocessor,
                         init_cfg=init_cfg)
        if not members:
            raise UserInputError('A distiller needs members (name -> '
                                 'network config).')
        if target not in members:
            raise UserInputError(f'target "{target}" is not a member; '
                                 f'members: {list(members)}.')
        # mmengine's ModuleDict, so that init_weights() reaches the members
        # (e.g. FuseNet's local VGG16 initialisation).
        self.members = ModuleDict(
            OrderedDict((name, MODELS.build(cfg))
                        for name, cfg in members.items()))
        self.target = target
        self.task = TASK_UTILS.build(
            dict(type='ClsTask') if task is None else task)
        for name, member in self.members.items():
            own = getattr(member, 'ignore_index', None)
            if isinstance(own, int) and own != self.task.ignore_index:
                raise UserInputError(
                    f'model.members.{name}.ignore_index={own}, but '
                    f'model.task.ignore_index={self.task.ignore_index}: the '
                    'void label must be the same for the members (their CE) '
                    'and the task (the KL masks); set both to one value.')
        self.pretrained = PretrainedMembers(pretrained, list(members))
        self.stages = parse_stages(
            stages, dict(train=dict(trainable=['student'])))
        self.stage = next(iter(self.stages))
        self.stage_epoch = 0

    # ------------------------------------------------------------------
    # members
    # ------------------------------------------------------------------
    @property
    def student(self) -> nn.Module:
        return self.members[self.target]

    @property
    def num_classes(self) -> int:
        num = getattr(self.student, 'num_classes', None)
        if num is None:
            raise UserInputError(
                f'The student "{self.target}" must expose num_classes.')
        return num

    def member_inputs(self, name: str, inputs: Inputs) -> Inputs:
        """The part of a batch member ``name`` reads: its ``modalities``
        (a dense batch is one tensor, read whole)."""
        if isinstance(inputs, torch.Tensor):
            return inputs
        used = getattr(self.members[name], 'modalities', None) or \
            tuple(inputs)
        return {k: inputs[k] for k in used}

    def member_forward(self, name: str, inputs: Inputs) -> torch.Tensor:
        """Logits of member ``name`` on a batch."""
        return self.members[name](self.member_inputs(name, inputs))

    def student_state_dict(self) -> Dict[str, torch.Tensor]:
        """The deployable student's weights alone."""
        return self.student.state_dict()

    def init_weights(self) -> None:
        """The members' own initialisation, then the pretrained members."""
        super().init_weights()
        self.pretrained.load(self.members)

    # ------------------------------------------------------------------
    # stages
    # ------------------------------------------------------------------
    @property
    def stage_names(self) -> List[str]:
        return list(self.stages)

    def valid_trainable_paths(self) -> List[str]:
        return (['student', 'members'] +
                [f'members.{name}' for name in self.members] +
                list(self.components))

    def check_stages(self, known: Sequence[str] = ()) -> None:
        """Fail on a trainable entry that names no module.

        Args:
            known (Sequence[str]): Lazily built modules (``'connectors.x'``)
                that are valid although they do not exist yet.
        """
        valid = set(self.valid_trainable_paths()) | set(known)
        for name, spec in self.stages.items():
            bad = [p for p in spec['trainable']
                   if p not in valid and not self._has_module(p)]
            if bad:
                raise UserInputError(
                    f'stage "{name}" trains {bad}, which name no module of '
                    f'the distiller; valid: {sorted(valid)} (or a dotted '
                    'path inside one of them).')

    def _module_path(self, path: str) -> str:
        """A trainable entry as a submodule path (``'student'`` is the
        target member)."""
        head, _, rest = path.partition('.')
        if head == 'student':
            return f'members.{self.target}' + (f'.{rest}' if rest else '')
        return path

    def _has_module(self, path: str) -> bool:
        try:
            self.get_submodule(self._module_path(path))
            return True
        except AttributeError:
            return False

    def _resolve(self, path: str) -> Optional[nn.Module]:
        """The module of a trainable entry; None when it is a component not
        built yet (e.g. connectors before the first dry forward)."""
        try:
            return self.get_submodule(self._module_path(path))
        except AttributeError:
            if path.partition('.')[0] in self.components:
                return None
            raise UserInputError(
                f'"{path}" names no module of the distiller; valid: '
                f'{self.valid_trainable_paths()}.') from None

    def stage_modules(self, stage: str) -> List[nn.Module]:
        """The modules trained in ``stage`` (the optimizer of that stage is
        built from exactly these, not from ``requires_grad``)."""
        if stage not in self.stages:
            raise UserInputError(f'Unknown stage "{stage}"; stages: '
                                 f'{self.stage_names}.')
        modules = [self._resolve(p) for p in self.stages[stage]['trainable']]
        return [m for m in modules if m is not None]

    def set_stage(self, stage: str, stage_epoch: int = 0) -> None:
        """Enter ``stage``: train its modules, freeze everything else (and
        keep frozen parts in eval mode, see :meth:`train`)."""
        modules = self.stage_modules(stage)
        self.stage = stage
        self.requires_grad_(False)
        for module in modules:
            module.requires_grad_(True)
        self.set_epoch(stage_epoch)
        self.train(self.training)

    def set_epoch(self, stage_epoch: int) -> None:
        """The epoch within the current stage (loss-weight schedules)."""
        self.stage_epoch = stage_epoch

    def train(self, mode: bool = True):
        """Frozen parts stay in eval mode (BN statistics, dropout) even when
        the runner calls ``model.train()``."""
        super().train(mode)
        if mode:
            for child in self.children():
                child.train(False)
            for module in self.stage_modules(self.stage):
                module.train(True)
        return self

    def required_hooks(self) -> List[dict]:
        """Hooks the algorithm needs (registered by the multi-stage loop
        when the config does not list them)."""
        return []

    def setup(self, example_inputs: Inputs, stages: Sequence[str]) -> None:
        """Build what depends on feature shapes (connectors, MaskNets) from
        one example batch; called by the multi-stage loop before the
        optimizers are built, with the stages that will run."""

    # ------------------------------------------------------------------
    # mmengine API
    # ------------------------------------------------------------------
    def loss(self, inputs: Inputs, data_samples) -> Dict[str, torch.Tensor]:
        """The current stage's loss terms."""
        raise NotImplementedError

    def predict(self, inputs: Inputs, data_samples=None) -> list:
        """The student's predictions (no side effects)."""
        logits = self.member_forward(self.target, inputs)
        return self.task.predictions(self.student, logits, data_samples)

    def forward(self, inputs: Inputs, data_samples=None,
                mode: str = 'tensor'):
        if mode == 'loss':
            return self.loss(inputs, data_samples)
        if mode == 'predict':
            return self.predict(inputs, data_samples)
        if mode == 'tensor':
            return self.member_forward(self.target, inputs)
        raise ValueError(f'Invalid mode "{mode}": use tensor, loss or '
                         'predict.')
