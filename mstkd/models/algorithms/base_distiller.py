"""What every distillation algorithm of mstkd shares.

Members by name (the multimodal model and one unimodal model per modality),
the target student, the task (classification or segmentation), pretrained
members and training stages. A stage declares the modules it trains; every
other part is frozen (``requires_grad=False``) and kept in eval mode, also
when the runner calls ``model.train()``. ``predict`` evaluates the student,
so the val/test loops report it.
"""
import logging
from collections import OrderedDict
from collections.abc import Mapping
from contextlib import nullcontext
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
from mmengine.logging import print_log
from mmengine.model import BaseModel, ModuleDict
from mmengine.optim import OptimWrapper

from mstkd.registry import MODELS, TASK_UTILS
from mstkd.utils.errors import UserInputError
from ..task_modules.tasks import SegTask
from .pretrained_members import PretrainedMembers

Inputs = Union[torch.Tensor, Dict[str, torch.Tensor]]
MicroBatch = Union[None, int, Dict[str, Optional[int]]]


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


def parse_micro_batch(value: MicroBatch,
                      stages: Sequence[str]) -> Dict[str, Optional[int]]:
    """The ``micro_batch`` option -> ``stage -> chunk size or None``.

    Args:
        value (None | int | dict): None (off), one size for every stage, or
            ``stage -> size`` (stages not named, or mapped to None, run
            whole batches), e.g. ``dict(s2=64)``.
        stages (Sequence[str]): The distiller's stage names.

    Raises:
        UserInputError: An unknown stage name, or a size that is not an
            integer > 0.
    """
    stages = list(stages)

    def check(size, where):
        if size is None:
            return None
        if isinstance(size, bool) or not isinstance(size, int) or size < 1:
            raise UserInputError(
                f'micro_batch{where} must be an integer > 0 (samples per '
                f'chunk) or None (whole batches); got {size!r}.')
        return size

    if value is None or not isinstance(value, Mapping):
        size = check(value, '')
        return {name: size for name in stages}
    unknown = [name for name in value if name not in stages]
    if unknown:
        raise UserInputError(
            f'micro_batch names unknown stages {unknown}; stages: {stages}.')
    return {name: check(value.get(name), f'.{name}') for name in stages}


def batch_size_of(data: Union[dict, tuple, list]) -> int:
    """Samples in a preprocessed batch: the leading size of its inputs (a
    tensor, a dict of tensors or a list of per-sample items)."""
    inputs = data['inputs'] if isinstance(data, Mapping) else data[0]
    while isinstance(inputs, Mapping):
        if not inputs:
            break
        inputs = next(iter(inputs.values()))
    if isinstance(inputs, torch.Tensor) and inputs.dim() > 0:
        return inputs.shape[0]
    if isinstance(inputs, (list, tuple)):
        return len(inputs)
    raise UserInputError(
        'micro_batch: cannot tell the batch size of inputs of type '
        f'{type(inputs).__name__}; expected a tensor, a dict of tensors or '
        'a list of samples.')


def _slice_batch(value: Any, start: int, stop: int, batch: int,
                 where: str) -> Any:
    """Samples ``start:stop`` of one batch entry: tensors and sequences
    along their first dimension, dicts entry by entry; anything else
    (strings, numbers, None, 0-d tensors) is shared by every chunk."""
    if isinstance(value, torch.Tensor):
        if value.dim() == 0:
            return value
        if value.shape[0] != batch:
            raise UserInputError(
                f'micro_batch: {where} has leading size {value.shape[0]}, '
                f'not the batch size {batch}; cannot split the batch.')
        return value[start:stop]
    if isinstance(value, Mapping):
        return type(value)(
            (k, _slice_batch(v, start, stop, batch, f'{where}.{k}'))
            for k, v in value.items())
    if isinstance(value, (list, tuple)) and not isinstance(value, str):
        if len(value) != batch:
            raise UserInputError(
                f'micro_batch: {where} holds {len(value)} items, not the '
                f'batch size {batch}; cannot split the batch.')
        return value[start:stop]
    return value


def split_batch(data: Union[dict, tuple, list],
                size: int) -> List[Tuple[Union[dict, tuple, list], int]]:
    """A preprocessed batch as ``ceil(B / size)`` chunks of ``size`` samples
    (the last one smaller), each with its sample count.

    ``data`` is mmengine's ``dict(inputs=..., data_samples=...)`` (or the
    positional tuple); inputs may be a tensor or a dict of tensors, data
    samples a dict of per-sample tensors (classification) or a list of
    data elements (segmentation).
    """
    batch = batch_size_of(data)
    chunks = []
    for start in range(0, batch, size):
        stop = min(start + size, batch)
        if isinstance(data, Mapping):
            chunk = type(data)(
                (k, _slice_batch(v, start, stop, batch, k))
                for k, v in data.items())
        else:
            chunk = type(data)(
                _slice_batch(v, start, stop, batch, f'data[{i}]')
                for i, v in enumerate(data))
        chunks.append((chunk, stop - start))
    return chunks


def _backward_uncounted(optim_wrapper: OptimWrapper,
                        loss: torch.Tensor) -> None:
    """Back-propagate one micro-batch chunk the way ``update_params`` does
    (``scale_loss`` for mmengine's ``accumulative_counts``, then the
    wrapper's ``backward``: AMP loss scaling), without a step and without
    advancing the wrapper's inner count: a whole batch counts once, so
    ``accumulative_counts`` keeps counting batches."""
    optim_wrapper.backward(optim_wrapper.scale_loss(loss))
    optim_wrapper._inner_count -= 1


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
        micro_batch (int | dict, optional): Split every training batch into
            chunks of this many samples, accumulating the gradients of the
            chunks into ONE optimizer step (see :meth:`train_step`), so the
            peak activation memory scales with the chunk instead of the
            batch. An int applies to every stage, a dict maps stage names
            to sizes (e.g. ``dict(s2=64)``; other stages run whole
            batches). Defaults to None (off).
        data_preprocessor (dict, optional): Defaults to mmengine's.
        init_cfg (dict, optional): Weight initialisation config.
    """

    #: Attributes that subclasses add (possibly lazily, after a dry
    #: forward); stage ``trainable`` entries may start with these names.
    components: Tuple[str, ...] = ()
    #: Records (products) of a subclass computed from batch-level statistics
    #: (e.g. MGDFR's channels frozen at their batch mean): micro-batching a
    #: stage that reads one (``stage_records``) is only approximate.
    batch_level_products: Tuple[str, ...] = ()

    def __init__(self,
                 members: Dict[str, dict],
                 target: str,
                 task: Optional[dict] = None,
                 pretrained: Optional[dict] = None,
                 stages: Optional[dict] = None,
                 micro_batch: MicroBatch = None,
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
        self._micro_batch_warned = set()
        self.micro_batch = micro_batch

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
    # micro-batching
    # ------------------------------------------------------------------
    @property
    def micro_batch(self) -> Dict[str, Optional[int]]:
        """Stage -> micro-batch size (None: whole batches). Assigning the
        config form (None, an int or a ``stage -> size`` dict) parses and
        validates it (:func:`parse_micro_batch`)."""
        return self._micro_batch

    @micro_batch.setter
    def micro_batch(self, value: MicroBatch) -> None:
        self._micro_batch = parse_micro_batch(value, self.stage_names)
        self._micro_batch_warned = set()

    def micro_batch_size(self, stage: Optional[str] = None) -> Optional[int]:
        """The micro-batch size of ``stage`` (the current one by default),
        or None when it trains on whole batches."""
        return self._micro_batch.get(self.stage if stage is None else stage)

    def stage_loss_modules(self, stage: str) -> Dict[str, nn.Module]:
        """Loss name -> loss module of ``stage``: the subclass's
        ``distill_losses`` that the stage's ``losses`` entry lists (all of
        them when it lists none). Empty for a distiller without
        ``distill_losses``."""
        losses = getattr(self, 'distill_losses', None)
        if not losses:
            return {}
        names = self.stages[stage].get('losses', list(losses))
        return {n: losses[n] for n in names if n in losses}

    def micro_batch_inexact(self, stage: str) -> List[str]:
        """Why micro-batching ``stage`` does not give the whole-batch
        gradients (empty: exact up to float rounding). See
        :meth:`train_step`."""
        reasons = []
        batch_level = [f'{n} ({type(m).__name__})'
                       for n, m in self.stage_loss_modules(stage).items()
                       if getattr(m, 'batch_level', False)]
        if batch_level:
            reasons.append('batch-level losses ' + ', '.join(batch_level))
        records = getattr(self, 'stage_records', None)
        products = sorted(set(self.batch_level_products) &
                          set(records(stage) if records else ()))
        if products:
            reasons.append('batch-level products ' + ', '.join(products))
        norms = set()
        for path in self.stages[stage]['trainable']:
            module = self._resolve(path)
            if module is None:
                continue
            for name, sub in module.named_modules():
                if isinstance(sub, nn.modules.batchnorm._BatchNorm) and \
                        sub.training:
                    norms.add(f'{path}.{name}' if name else path)
        if norms:
            shown = sorted(norms)
            reasons.append(
                'BatchNorm in training mode (batch statistics) in ' +
                ', '.join(shown[:5]) +
                (f' and {len(shown) - 5} more' if len(shown) > 5 else ''))
        if isinstance(self.task, SegTask):
            reasons.append('segmentation losses averaged over the valid '
                           'pixels of the batch (chunks are weighted by '
                           'sample count, not pixel count)')
        return reasons

    def _warn_micro_batch(self, stage: str, size: int) -> None:
        if stage in self._micro_batch_warned:
            return
        self._micro_batch_warned.add(stage)
        reasons = self.micro_batch_inexact(stage)
        if reasons:
            print_log(
                f'micro_batch={size} in stage "{stage}" is approximate, not '
                'the whole-batch gradient: ' + '; '.join(reasons) + '. '
                'Chunks see batch-level statistics of their own samples '
                'only.', logger='current', level=logging.WARNING)

    def train_step(self, data: Union[dict, tuple, list],
                   optim_wrapper: OptimWrapper) -> Dict[str, torch.Tensor]:
        """mmengine's training step, micro-batched when the current stage
        has a ``micro_batch`` size ``m`` smaller than the batch size ``B``.

        The batch is preprocessed once, then split into ``ceil(B / m)``
        chunks (the last one smaller). Every chunk's losses are computed
        and scaled by ``chunk_size / B``; every chunk but the last is
        back-propagated (``optim_wrapper.backward``, under ``no_sync`` in
        DDP, without advancing the wrapper's accumulation count) and the
        last goes through ``optim_wrapper.update_params``: one gradient
        synchronisation, one (clipped) ``step`` and ``zero_grad`` per batch,
        with mmengine's ``accumulative_counts`` still counting batches.
        The returned log variables are the chunk values weighted by
        ``chunk_size / B``: the whole-batch numbers for per-sample means.
        ``m >= B`` (or None) runs the unchanged mmengine step.

        Exactness: the gradient equals the whole batch's (up to float
        rounding) when every loss is a mean over samples of per-sample
        terms: CE, KL, MSE, i.e. MST's S1 and S2, KD, FitNets. It is only
        approximate for batch-level terms, which see each chunk's samples
        alone: MST's S3 load balance (on the batch mean of the gate's
        probabilities), RKD (pairs and triplets of one batch), CRD (memory
        banks updated per chunk), MLLD's batch and class levels, MGDFR's
        channels frozen at their batch mean, and BatchNorm layers training
        on batch statistics. Segmentation losses averaged over the valid
        pixels of the batch are not exact either (chunks are weighted by
        sample count, not by valid-pixel count). Stochastic layers
        (dropout, random routing) draw different random numbers. A one-time
        warning names the batch-level losses (``batch_level = True`` on the
        loss class) and products (:attr:`batch_level_products`), training
        BatchNorm layers and dense tasks of a micro-batched stage. Per-step side effects of a forward (e.g. the
        routing statistics of MST's S3) describe the last chunk.
        """
        return self.micro_batch_train_step(data, optim_wrapper)

    def micro_batch_train_step(self, data: Union[dict, tuple, list],
                               optim_wrapper: OptimWrapper,
                               model: Optional[nn.Module] = None
                               ) -> Dict[str, torch.Tensor]:
        """:meth:`train_step` through ``model``: this distiller, or its DDP
        wrapper (whose forward and ``no_sync`` are used)."""
        model = self if model is None else model
        size = self.micro_batch_size()
        with optim_wrapper.optim_context(model):
            data = self.data_preprocessor(data, True)
            batch = None if size is None else batch_size_of(data)
            whole = size is None or batch <= size
            if whole:
                losses = model._run_forward(data, mode='loss')
        if whole:
            parsed_losses, log_vars = self.parse_losses(losses)
            optim_wrapper.update_params(parsed_losses)
            return log_vars

        self._warn_micro_batch(self.stage, size)
        chunks = split_batch(data, size)
        no_sync = getattr(model, 'no_sync', None)
        log_vars: Dict[str, torch.Tensor] = OrderedDict()
        for index, (chunk, count) in enumerate(chunks):
            weight = count / batch
            last = index == len(chunks) - 1
            with (nullcontext() if last or no_sync is None else no_sync()):
                with optim_wrapper.optim_context(model):
                    losses = model._run_forward(chunk, mode='loss')
                parsed_losses, chunk_vars = self.parse_losses(losses)
                if last:
                    optim_wrapper.update_params(parsed_losses * weight)
                else:
                    _backward_uncounted(optim_wrapper,
                                        parsed_losses * weight)
            for key, value in chunk_vars.items():
                value = value.detach() * weight
                log_vars[key] = log_vars[key] + value if key in log_vars \
                    else value
            del losses, parsed_losses, chunk_vars
        return log_vars

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
