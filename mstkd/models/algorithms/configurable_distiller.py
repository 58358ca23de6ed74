"""A distiller declared in config: recorders, connectors, losses, stages.

The example below is FitNets (Romero et al., ICLR 2015) on AV-Digits: a hint
stage, then a KD stage, with no Python class of its own::

    model = dict(
        type='ConfigurableDistiller',
        members=dict(mm=..., image=...), target='image',
        pretrained=dict(mm=dict(checkpoint='work_dirs/avdigits_fusion/'
                                'best_CE_epoch_14.pth',
                                config='configs/members/avdigits_fusion.py')),
        # the student's fc1 regressed onto the teacher's fusion.fc1; the
        # widths come from a dry forward
        connectors=dict(hint=dict(type='LinearConnector', source='image:fc1',
                                  target='mm:fusion.fc1')),
        losses=dict(
            loss_hint=dict(type='MSELoss'),
            loss_ce=dict(type='CrossEntropyLoss'),
            loss_kd=dict(type='KLDivergenceLoss', temperature=4.0)),
        loss_forward_mappings=dict(
            loss_hint=dict(pred='hint', target='mm:fusion.fc1'),
            loss_ce=dict(logits='image:', labels='labels'),
            loss_kd=dict(pred='image:', target='mm:')),
        stages=dict(
            hint=dict(trainable=['student', 'connectors.hint'],
                      losses=['loss_hint']),
            kd=dict(trainable=['student'], losses=['loss_ce', 'loss_kd'])))
    train_cfg = dict(type='MultiStageTrainLoop', stages=dict(hint=5, kd=15))

Record keys (what a mapping argument reads):

- ``'member:'`` the member's logits, ``'member:dotted.path'`` a layer
  output (validated when the distiller is built; a wrong path lists the
  valid ones);
- ``'labels'``, ``'sample_ids'``: from the task;
- a connector's name: its output on its ``source`` record;
- ``products`` of an algorithm subclass (e.g. MST's
  ``'specialized_logits'``).

A mapping value is a key, a list of keys (the loss gets a list), or
``dict(source=key, detach=False, index=None)`` (``index`` picks
``record[index]``). A loss whose ``forward`` takes ``valid_mask`` or
``ignore_index`` gets the task's value unless the mapping sets it, so one
declaration serves classification and segmentation.

Each member is run once per step with hooks on the layers the stage's losses
read, in member order; a member with no trainable parameter in the stage
runs without autograd.
"""
import inspect
from collections import OrderedDict
from typing import Dict, List, Optional, Sequence, Set

import torch
import torch.nn as nn
from mmengine.logging import print_log

from mstkd.registry import MODELS
from mstkd.utils.errors import UserInputError
from ..losses.base_loss import BaseLoss
from ..task_modules.layer_paths import (infer_feature_shapes,
                                        validate_layer_paths)
from ..task_modules.recorder import (MemberRecorder, parse_record_key,
                                     record_key)
from .base_distiller import BaseDistiller, Inputs, MicroBatch

#: Record keys every task provides.
TASK_RECORDS = ('labels', 'sample_ids')
#: Loss arguments a distiller fills in from the task when not mapped.
INJECTED = ('valid_mask', 'ignore_index')


class Source:
    """One mapping argument: ``key`` (or a list of keys), ``detach``,
    ``index``."""

    def __init__(self, key, detach: bool = False, index=None):
        self.keys = list(key) if isinstance(key, (list, tuple)) else [key]
        self.is_list = isinstance(key, (list, tuple))
        self.detach = detach
        self.index = index

    @classmethod
    def parse(cls, value) -> 'Source':
        if isinstance(value, dict):
            unknown = set(value) - {'source', 'detach', 'index'}
            if unknown or 'source' not in value:
                raise UserInputError(
                    'A mapping argument is a record key, a list of keys or '
                    "dict(source=key, detach=False, index=None); got "
                    f'{value}.')
            return cls(value['source'], value.get('detach', False),
                       value.get('index'))
        return cls(value)

    def resolve(self, records: dict):
        values = []
        for key in self.keys:
            value = records[key]
            if self.index is not None:
                value = value[self.index]
            if self.detach:
                value = value.detach()
            values.append(value)
        return values if self.is_list else values[0]


@MODELS.register_module()
class ConfigurableDistiller(BaseDistiller):
    """A distillation method declared in config (mmrazor-style recorders,
    connectors, ``distill_losses`` + ``loss_forward_mappings``, and
    torchdistill-style stages).

    Args:
        members (dict): See :class:`BaseDistiller`.
        target (str): See :class:`BaseDistiller`.
        losses (dict): Loss name (``loss_*``) -> loss config (one of
            :mod:`mstkd.models.losses`, or any registered module whose
            ``forward`` returns a tensor).
        loss_forward_mappings (dict): Loss name -> ``forward`` argument ->
            record (see the module docstring).
        connectors (dict, optional): Name -> connector config with
            ``source`` (the record it maps) and optionally ``target`` (the
            record whose shape sets the output); ``in_channels``,
            ``out_channels`` (and ``in_size``/``out_size`` where the
            connector takes them) are filled in from a dry forward.
        stages (dict, optional): Stage name -> ``dict(trainable=[...],
            losses=[...])``; a stage without ``losses`` uses every declared
            loss. Defaults to one stage ``'train'`` training the student and
            the connectors with every loss.
        micro_batch (int | dict, optional): Micro-batch size of every
            stage, or stage -> size: gradient accumulation over chunks of
            the batch within one optimizer step (see
            :meth:`BaseDistiller.train_step`). Defaults to None (off).
        task, pretrained, data_preprocessor, init_cfg: See
            :class:`BaseDistiller`.
    """

    components = ('connectors', )
    #: Record keys produced by an algorithm subclass (:meth:`add_products`).
    products: tuple = ()

    def __init__(self,
                 members: Dict[str, dict],
                 target: str,
                 losses: Dict[str, dict],
                 loss_forward_mappings: Dict[str, dict],
                 connectors: Optional[Dict[str, dict]] = None,
                 stages: Optional[dict] = None,
                 task: Optional[dict] = None,
                 pretrained: Optional[dict] = None,
                 micro_batch: MicroBatch = None,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None):
        connectors = OrderedDict((connectors or {}).items())
        default_stages = dict(train=dict(
            trainable=['student'] + [f'connectors.{c}' for c in connectors],
            losses=list(losses)))
        super().__init__(members, target, task=task, pretrained=pretrained,
                         stages=stages or default_stages,
                         micro_batch=micro_batch,
                         data_preprocessor=data_preprocessor,
                         init_cfg=init_cfg)
        self.distill_losses = nn.ModuleDict()
        for name, cfg in losses.items():
            if not name.startswith('loss'):
                raise UserInputError(
                    f'Loss names must start with "loss" (mmengine sums those '
                    f'keys); got "{name}".')
            loss = MODELS.build(cfg)
            if isinstance(loss, BaseLoss):
                loss.loss_name = name
            self.distill_losses[name] = loss
        self.connector_cfgs = OrderedDict()
        for name, cfg in connectors.items():
            cfg = dict(cfg)
            if 'source' not in cfg:
                raise UserInputError(f'connector "{name}" needs a source '
                                     'record, e.g. source="image:fc1".')
            self.connector_cfgs[name] = cfg
        # built by setup() from a dry forward
        self.connectors = nn.ModuleDict()
        self.loss_forward_mappings = self._parse_mappings(
            loss_forward_mappings)
        self._injected = {
            name: [a for a in INJECTED if a in inspect.signature(
                loss.forward).parameters and
                a not in self.loss_forward_mappings[name]]
            for name, loss in self.distill_losses.items()}
        self._check_records()
        self.check_stages(known=[f'connectors.{c}' for c in connectors])
        self._stage_losses = self._check_stage_losses()
        self._register_load_state_dict_pre_hook(self._skip_unbuilt)
        # Freeze to the first stage. Not ``self.set_stage``: a subclass's
        # override would run before the subclass has built its parts.
        BaseDistiller.set_stage(self, self.stage)

    # ------------------------------------------------------------------
    # declaration checks
    # ------------------------------------------------------------------
    def _parse_mappings(self, mappings: Dict[str, dict]
                        ) -> Dict[str, Dict[str, Source]]:
        unknown = sorted(set(mappings) - set(self.distill_losses))
        missing = sorted(set(self.distill_losses) - set(mappings))
        if unknown or missing:
            raise UserInputError(
                f'loss_forward_mappings must have one entry per loss; '
                f'losses: {list(self.distill_losses)}, unknown: {unknown}, '
                f'missing: {missing}.')
        parsed = {}
        for name, args in mappings.items():
            params = inspect.signature(
                self.distill_losses[name].forward).parameters
            bad = sorted(set(args) - set(params))
            required = [p for p, v in params.items()
                        if v.default is inspect.Parameter.empty
                        and v.kind not in (v.VAR_POSITIONAL, v.VAR_KEYWORD)
                        and p not in args and p not in INJECTED]
            if bad or required:
                raise UserInputError(
                    f'loss_forward_mappings.{name}: '
                    + (f'unknown arguments {bad}; ' if bad else '')
                    + (f'unmapped required arguments {required}; '
                       if required else '')
                    + f'{type(self.distill_losses[name]).__name__}.forward '
                    f'takes {list(params)}.')
            parsed[name] = {arg: Source.parse(v) for arg, v in args.items()}
        return parsed

    def valid_records(self) -> List[str]:
        return (list(TASK_RECORDS) + list(self.connector_cfgs) +
                list(self.products) +
                [record_key(m) for m in self.members] +
                [record_key(m, '<layer path>') for m in self.members])

    def _check_record(self, key, where: str) -> None:
        if not isinstance(key, str):
            raise UserInputError(f'{where}: a record key is a string, got '
                                 f'{key!r}.')
        parsed = parse_record_key(key)
        if parsed is None:
            if key in TASK_RECORDS or key in self.connector_cfgs or \
                    key in self.products:
                return
            raise UserInputError(
                f'{where} reads unknown record "{key}"; valid: '
                f'{self.valid_records()}.')
        member, path = parsed
        if member not in self.members:
            raise UserInputError(
                f'{where} reads "{key}" of unknown member "{member}"; '
                f'members: {list(self.members)}.')
        if path:
            validate_layer_paths(self.members[member], [path])

    def _check_records(self) -> None:
        for name, args in self.loss_forward_mappings.items():
            for arg, source in args.items():
                for key in source.keys:
                    self._check_record(key, f'loss_forward_mappings.{name}.'
                                       f'{arg}')
        for name, cfg in self.connector_cfgs.items():
            for field in ('source', 'target'):
                if field in cfg:
                    self._check_record(cfg[field],
                                       f'connectors.{name}.{field}')
                    if cfg[field] in self.connector_cfgs:
                        raise UserInputError(
                            f'connectors.{name}.{field} names a connector; '
                            'connectors map member records.')

    def _check_stage_losses(self) -> Dict[str, List[str]]:
        stage_losses = {}
        for stage, spec in self.stages.items():
            # a stage that lists no losses uses every declared one
            names = list(spec['losses'] if 'losses' in spec else
                         self.distill_losses)
            bad = [n for n in names if n not in self.distill_losses]
            if bad:
                raise UserInputError(
                    f'stage "{stage}" uses undeclared losses {bad}; losses: '
                    f'{list(self.distill_losses)}.')
            stage_losses[stage] = names
        return stage_losses

    def stage_records(self, stage: str) -> Set[str]:
        """Every record the stage's losses read (connector sources too)."""
        keys = set()
        for name in self._stage_losses[stage]:
            for source in self.loss_forward_mappings[name].values():
                keys.update(source.keys)
        for name in [k for k in keys if k in self.connector_cfgs]:
            keys.add(self.connector_cfgs[name]['source'])
        return keys

    # ------------------------------------------------------------------
    # lazily built connectors
    # ------------------------------------------------------------------
    def record_shapes(self, keys: Sequence[str],
                      example_inputs: Inputs) -> Dict[str, torch.Size]:
        """Shapes (batch dim dropped) of member records, by a dry forward
        of each member involved."""
        by_member: Dict[str, List[str]] = OrderedDict()
        for key in keys:
            member, path = parse_record_key(key)
            by_member.setdefault(member, []).append(path)
        shapes = {}
        for member, paths in by_member.items():
            found = infer_feature_shapes(
                self.members[member], paths,
                self.member_inputs(member, example_inputs))
            shapes.update({record_key(member, p): s
                           for p, s in found.items()})
        return shapes

    def setup(self, example_inputs: Inputs, stages: Sequence[str]) -> None:
        """Build the connectors (widths from a dry forward)."""
        if not self.connector_cfgs or len(self.connectors):
            return
        keys = [cfg[f] for cfg in self.connector_cfgs.values()
                for f in ('source', 'target') if f in cfg]
        shapes = self.record_shapes(keys, example_inputs)
        for name, cfg in self.connector_cfgs.items():
            cfg = dict(cfg)
            source = shapes[cfg.pop('source')]
            target = shapes.get(cfg.pop('target', None))
            fill = dict(in_channels=int(source[0]))
            if len(source) > 1:
                fill['in_size'] = tuple(source[1:])
            if target is not None:
                fill['out_channels'] = int(target[0])
                if len(target) > 1:
                    fill['out_size'] = tuple(target[1:])
            params = inspect.signature(
                MODELS.get(cfg['type']).__init__).parameters
            for key, value in fill.items():
                if key in params:
                    cfg.setdefault(key, value)
            self.connectors[name] = MODELS.build(cfg)
        device = next(self.members.parameters()).device
        self.connectors.to(device)
        print_log('Connectors: ' + ', '.join(
            f'{n} ({type(c).__name__}: {c.in_channels} -> {c.out_channels})'
            if hasattr(c, 'in_channels') else n
            for n, c in self.connectors.items()), logger='current')
        self.set_stage(self.stage, self.stage_epoch)

    def _skip_unbuilt(self, state_dict, prefix, *args, **kwargs) -> None:
        """Evaluating a student from a full checkpoint needs none of the
        lazily built parts: their weights are skipped when none were
        built (e.g. in tools/test.py)."""
        for name in self.components:
            container = getattr(self, name, None)
            if isinstance(container, nn.ModuleDict) and not len(container):
                for key in [k for k in state_dict
                            if k.startswith(f'{prefix}{name}.')]:
                    state_dict.pop(key)

    # ------------------------------------------------------------------
    # one training step
    # ------------------------------------------------------------------
    def set_epoch(self, stage_epoch: int) -> None:
        super().set_epoch(stage_epoch)
        for loss in self.distill_losses.values():
            if isinstance(loss, BaseLoss):
                loss.set_epoch(stage_epoch)

    def loss_weights(self) -> Dict[str, float]:
        """The current weight of every loss of the stage."""
        return {n: self.distill_losses[n].loss_weight
                for n in self._stage_losses[self.stage]
                if isinstance(self.distill_losses[n], BaseLoss)}

    def record_member(self, name: str, paths: Sequence[str],
                      inputs: Inputs) -> Dict[str, torch.Tensor]:
        """One forward of member ``name`` recording ``paths`` (and its
        logits, ``'name:'``); without autograd when it trains nothing."""
        model = self.members[name]
        grad = torch.is_grad_enabled() and any(
            p.requires_grad for p in model.parameters())
        recorder = MemberRecorder(name, paths)
        with torch.set_grad_enabled(grad), recorder.record(model) as records:
            records[record_key(name)] = model(self.member_inputs(name, inputs))
        return records

    def add_products(self, records: dict, keys: Set[str], inputs: Inputs,
                     data_samples) -> None:
        """Subclasses add their :attr:`products` needed in ``keys``."""

    def compute_records(self, keys: Set[str], inputs: Inputs,
                        data_samples) -> dict:
        """Every record in ``keys``: task records, then the members in
        member order, then the algorithm's products, then connectors."""
        labels = self.task.labels(data_samples)
        records = dict(labels=labels)
        if 'sample_ids' in keys:
            records['sample_ids'] = self.task.sample_ids(data_samples)
        member_paths: Dict[str, List[str]] = OrderedDict()
        for key in keys:
            parsed = parse_record_key(key)
            if parsed is not None:
                member_paths.setdefault(parsed[0], []).append(parsed[1])
        for name in self.members:
            if name in member_paths:
                records.update(
                    self.record_member(name, member_paths[name], inputs))
        self.add_products(records, keys, inputs, data_samples)
        for name in self.connector_cfgs:
            if name in keys:
                records[name] = self.connectors[name](
                    records[self.connector_cfgs[name]['source']])
        return records

    def compute_losses(self, names: Sequence[str], records: dict
                       ) -> Dict[str, torch.Tensor]:
        """The named losses on ``records`` (task arguments injected)."""
        injected = dict(valid_mask=self.task.valid_mask(records['labels']),
                        ignore_index=self.task.ignore_index)
        losses = {}
        for name in names:
            kwargs = {arg: source.resolve(records) for arg, source in
                      self.loss_forward_mappings[name].items()}
            kwargs.update({arg: injected[arg] for arg in self._injected[name]})
            losses[name] = self.distill_losses[name](**kwargs)
        return losses

    def loss(self, inputs: Inputs, data_samples) -> Dict[str, torch.Tensor]:
        if self.connector_cfgs and not len(self.connectors):
            raise RuntimeError(
                'The connectors are built from a dry forward by the '
                "multi-stage loop: train with train_cfg=dict(type="
                "'MultiStageTrainLoop', stages=...) or call "
                'model.setup(example_inputs, stages) first.')
        records = self.compute_records(
            self.stage_records(self.stage), inputs, data_samples)
        return self.compute_losses(self._stage_losses[self.stage], records)
