"""MST-Distill: Mixture of Specialized Teachers (ACM MM 2025), Sec. 3.

One model owns every part of the method, by modality name:

- ``members``: the multimodal model and one unimodal model per modality
  (paper Sec. 3.1). ``target`` names the student; every other member listed
  in ``teachers`` is a base teacher (the multimodal one, the cross-modal ones).
- ``masknets``: one MaskNet per (teacher, layer path) pair (Sec. 3.2, Eq. 5);
  each pair is one specialized teacher.
- ``gate``: the GateNet routing the student to its top-k specialized teachers
  (Sec. 3.3, Eq. 11-13).

The stage (``'s1'``, ``'s2'``, ``'s3'``) is set by :class:`MSTDistillLoop`;
``forward(mode='loss')`` computes that stage's objective: Eq. 4 (S1), the sum
of the independent Eq. 10 losses of every MaskNet (S2) and Eq. 18 (S3).
``predict`` always evaluates the student, so the val/test loops report it.
"""
import copy
from collections import OrderedDict
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
from mmengine.logging import print_log
from mmengine.model import BaseModel, ModuleDict

from mstkd.registry import MODELS
from mstkd.utils.errors import UserInputError
from ..classifiers.member_classifier import pack_predictions
from .losses import (collaborative_loss, kl_divergence, load_balance_loss,
                     mean_teacher_loss, dkd_loss, specialized_teacher_loss,
                     step_decay)
from .mask_hooks import (batched_specialized_forward, infer_feature_shapes,
                         validate_layer_paths)

STAGES = ('s1', 's2', 's3')
COMPAT_ITEMS = ('stacked_masks', 'lb_divide_by_n', 'decay_from_epoch0',
                'gate_reference', 'dense_kd_divide_all')


def parse_reference_compat(value: Union[bool, dict, None]) -> Dict[str, bool]:
    """``reference_compat``: False (the paper, default), True (every item of
    the public release) or a dict choosing items of :data:`COMPAT_ITEMS`."""
    if isinstance(value, dict):
        unknown = set(value) - set(COMPAT_ITEMS)
        if unknown:
            raise UserInputError(
                f'Unknown reference_compat items {sorted(unknown)}; valid '
                f'items: {list(COMPAT_ITEMS)}.')
        return {k: bool(value.get(k, False)) for k in COMPAT_ITEMS}
    return {k: bool(value) for k in COMPAT_ITEMS}


def _on_device(sums: Dict[str, torch.Tensor],
               device: torch.device) -> Dict[str, torch.Tensor]:
    """Move accumulators (in place in ``sums``) to ``device`` once, so
    per-step updates stay on the device without a host sync."""
    for key, value in sums.items():
        if value.device != device:
            sums[key] = value.to(device)
    return sums


class SpecializedTeacher:
    """Bookkeeping of one specialized teacher: base teacher + layer path."""

    def __init__(self, teacher: str, path: Optional[str]):
        self.teacher = teacher
        self.path = path
        self.name = teacher if path is None else f'{teacher}:{path}'
        self.key = self.name.replace('.', '_').replace(':', '__')


@MODELS.register_module()
class MSTDistill(BaseModel):
    """The MST-Distill algorithm as one mmengine model.

    Args:
        members (dict): Member name -> network config. The multimodal member
            (e.g. ``mm``) and one unimodal member per modality (named by the
            modality); every network maps the batch's ``inputs`` dict to
            logits.
        target (str): The student member (the deployed modality).
        teachers (dict): The teacher pool: teacher member name -> layer paths
            (dotted, relative to that member) where MaskNets are inserted,
            e.g. ``dict(mm=['fusion.concat', 'fusion.fc1'],
            audio=['conv2', 'conv3'])``. MM, CM or MM+CM pools are just
            different keys. N (Eq. 5) is the total number of paths.
        k (int): Teachers selected per sample (Eq. 13). Defaults to 1.
        temperature (float): KD temperature tau (Eq. 3, 9). Defaults to 4.
        scale_by_t2 (bool): Multiply KL terms by tau^2 (Hinton et al.; the
            reference protocol). Defaults to True.
        collaborative (str): S1 objective: 'joint' (paper Eq. 1-4, no
            detach), 'dml' (DML-style, detached partners, Table 7) or
            'independent' (CE only: skipping S1's collaboration, Table 3).
        use_masknets (bool): False skips S2: the teachers are used as they
            are (one specialized teacher per base teacher). Defaults to True.
        routing (str): 'topk' (Eq. 13-14) or 'mean' (average KL over all
            teachers, no GateNet: the settings of Table 3 without S3, i.e.
            (a) when S1 and S2 are skipped too and (e) when they are not).
        masknet (dict): MaskNet options (``hidden_dim``, ``num_heads``,
            ``projector``: 'full' (paper) or 'light').
        gate (dict): GateNet config; ``in_channels`` and ``num_teachers`` are
            filled in.
        lambda1 (dict): KD weight schedule of Eq. 18: ``initial``, ``step``,
            ``factor`` (paper: 1.0 halved every 30 epochs).
        lambda2 (dict): Load-balance weight schedule (paper: 1.0, -10% every
            10 epochs).
        lb_mode (str): 'kl' (Eq. 17) or 'cv' (Table 8).
        reference_compat (bool | dict): Reproduce the public release where it
            differs from the paper (see :data:`COMPAT_ITEMS` and docs).
        cache_teacher_outputs (bool): Compute the frozen specialized teachers'
            logits once per training sample and reuse them in every S3 epoch.
            Valid when the training pipeline is deterministic (no
            augmentation: the reference protocol). Defaults to True.
        data_preprocessor (dict, optional): Defaults to mmengine's.
    """

    def __init__(self,
                 members: Dict[str, dict],
                 target: str,
                 teachers: Dict[str, Sequence[str]],
                 k: int = 1,
                 temperature: float = 4.0,
                 scale_by_t2: bool = True,
                 collaborative: str = 'joint',
                 use_masknets: bool = True,
                 routing: str = 'topk',
                 masknet: Optional[dict] = None,
                 gate: Optional[dict] = None,
                 lambda1: Optional[dict] = None,
                 lambda2: Optional[dict] = None,
                 lb_mode: str = 'kl',
                 reference_compat: Union[bool, dict] = False,
                 cache_teacher_outputs: bool = True,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None):
        super().__init__(data_preprocessor=data_preprocessor,
                         init_cfg=init_cfg)
        if target not in members:
            raise UserInputError(f'target "{target}" is not a member; '
                                 f'members: {list(members)}.')
        bad = [t for t in teachers if t not in members or t == target]
        if bad or not teachers:
            raise UserInputError(
                f'teachers must name members other than the target '
                f'"{target}"; got {list(teachers)} (bad: {bad}), members: '
                f'{list(members)}.')
        if collaborative not in ('joint', 'dml', 'independent'):
            raise UserInputError("collaborative must be 'joint', 'dml' or "
                                 f"'independent', got '{collaborative}'.")
        if routing not in ('topk', 'mean'):
            raise UserInputError(
                f"routing must be 'topk' or 'mean', got '{routing}'.")

        # mmengine's ModuleDict, so that init_weights() reaches the members
        # (e.g. FuseNet's local VGG16 initialisation).
        self.members = ModuleDict(
            OrderedDict((name, MODELS.build(cfg))
                        for name, cfg in members.items()))
        self.target = target
        self.teacher_layers = {t: list(p) for t, p in teachers.items()}
        for name, paths in self.teacher_layers.items():
            # Fail before training, listing the valid paths.
            validate_layer_paths(self.members[name], paths)
        self.use_masknets = use_masknets
        self.specialized: List[SpecializedTeacher] = [
            SpecializedTeacher(t, p) for t, paths in
            self.teacher_layers.items()
            for p in (paths if use_masknets else [None])
        ]
        self.num_teachers = len(self.specialized)
        if routing == 'topk' and not 1 <= k <= self.num_teachers:
            raise UserInputError(f'k must be in 1..N={self.num_teachers}, '
                                 f'got {k}.')
        self.k = k
        self.temperature = temperature
        self.scale_by_t2 = scale_by_t2
        self.collaborative = collaborative
        self.routing = routing
        self.lb_mode = lb_mode
        self.compat = parse_reference_compat(reference_compat)
        self.cache_teacher_outputs = cache_teacher_outputs
        self.masknet_cfg = dict(masknet or {})
        self.lambda1_cfg = dict(dict(initial=1.0, step=30, factor=0.5),
                                **(lambda1 or {}))
        self.lambda2_cfg = dict(dict(initial=1.0, step=10, factor=0.9),
                                **(lambda2 or {}))

        num_classes = self._num_classes()
        gate_cfg = dict(dict(type='GateNet'), **(gate or {}))
        if self.compat['gate_reference']:
            gate_cfg['act'] = None  # release: Linear -> Linear
        gate_cfg.update(in_channels=num_classes,
                        num_teachers=self.num_teachers)
        self.gate = MODELS.build(gate_cfg) if routing == 'topk' else None
        self.masknets = nn.ModuleDict()  # built by build_masknets()

        self.stage = 's1'
        self.stage_epoch = 0  # epoch within the current stage
        self._teacher_cache: Dict[int, torch.Tensor] = {}
        self._best_masknets: Dict[str, dict] = {}
        self._best_masknet_kl: Dict[str, float] = {}
        self._reset_routing_stats()
        self._reset_masknet_val()
        self._register_load_state_dict_pre_hook(self._skip_unbuilt_masknets)

    # ------------------------------------------------------------------
    # construction
    # ------------------------------------------------------------------
    def _num_classes(self) -> int:
        student = self.members[self.target]
        num = getattr(student, 'num_classes', None)
        if num is None:
            raise UserInputError(
                f'The student "{self.target}" must expose num_classes.')
        return num

    @property
    def masknets_built(self) -> bool:
        return not self.use_masknets or len(self.masknets) > 0

    @torch.no_grad()
    def build_masknets(self, inputs: Dict[str, torch.Tensor]) -> None:
        """Create one MaskNet per specialized teacher.

        The feature shape at every layer path is inferred by a dry forward
        of the base teacher on ``inputs`` (one example batch): never written
        in configs. A spatial feature ``(C, H, W)`` gets a MaskNet over its C
        channels (spatial reduction, mask broadcast over H, W).
        """
        if self.masknets_built:
            return
        from mstkd.registry import MODELS as registry
        for teacher, paths in self.teacher_layers.items():
            shapes = infer_feature_shapes(self.members[teacher], paths,
                                          inputs)
            for spec in self.specialized:
                if spec.teacher != teacher:
                    continue
                cfg = dict(dict(type='MaskNet'), **self.masknet_cfg)
                cfg['in_channels'] = int(shapes[spec.path][0])
                self.masknets[spec.key] = registry.build(cfg)
        self.masknets.to(next(self.members.parameters()).device)
        print_log(
            'MaskNets: ' + ', '.join(
                f'{s.name} (d={self.masknets[s.key].in_channels})'
                for s in self.specialized), logger='current')

    def _skip_unbuilt_masknets(self, state_dict, prefix, *args, **kwargs):
        """Evaluating a student from a full MST checkpoint does not need the
        MaskNets: their weights are skipped when none were built."""
        if len(self.masknets) == 0:
            for key in [k for k in state_dict
                        if k.startswith(prefix + 'masknets.')]:
                state_dict.pop(key)

    # ------------------------------------------------------------------
    # stages
    # ------------------------------------------------------------------
    def stage_modules(self, stage: str) -> List[nn.Module]:
        """The modules trained in ``stage`` (the optimizer of that stage is
        built from exactly these, not from ``requires_grad``)."""
        if stage == 's1':
            return list(self.members.values())
        if stage == 's2':
            return list(self.masknets.values())
        if stage == 's3':
            gate = [self.gate] if self.gate is not None else []
            return [self.members[self.target]] + gate
        raise ValueError(f'Unknown stage "{stage}"; stages: {STAGES}.')

    def set_stage(self, stage: str, stage_epoch: int = 0) -> None:
        """Enter ``stage``: freeze everything else (and keep frozen parts in
        eval mode, see :meth:`train`)."""
        if stage not in STAGES:
            raise ValueError(f'Unknown stage "{stage}"; stages: {STAGES}.')
        if stage == 's2' and not self.masknets_built:
            raise RuntimeError('build_masknets() must run before S2.')
        if stage != self.stage:
            self._teacher_cache.clear()
        self.stage = stage
        self.stage_epoch = stage_epoch
        self.requires_grad_(False)
        for module in self.stage_modules(stage):
            module.requires_grad_(True)
        self.train(self.training)

    def train(self, mode: bool = True):
        """Frozen parts stay in eval mode (BN statistics, dropout) even when
        the runner calls ``model.train()``."""
        super().train(mode)
        if mode:
            trained = set(map(id, self.stage_modules(self.stage)))
            for module in list(self.members.values()) + list(
                    self.masknets.values()):
                if id(module) not in trained:
                    module.eval()
            if self.gate is not None and id(self.gate) not in trained:
                self.gate.eval()
        return self

    def lambdas(self) -> Tuple[float, float]:
        """lambda1 and lambda2 of Eq. 18 at the current S3 epoch."""
        compat = self.compat['decay_from_epoch0']
        return tuple(
            step_decay(cfg['initial'], self.stage_epoch, cfg['step'],
                       cfg['factor'], reference_compat=compat)
            for cfg in (self.lambda1_cfg, self.lambda2_cfg))

    # ------------------------------------------------------------------
    # specialized teachers
    # ------------------------------------------------------------------
    def _teacher_forward(self, teacher: str,
                         inputs: Dict[str, torch.Tensor]) -> torch.Tensor:
        """Logits ``(K, B, C)`` of the K specialized teachers of one base
        teacher, in ONE forward of the K-times repeated batch: a hook at
        each layer masks its own chunk (chunk j = specialized teacher j)."""
        specs = [s for s in self.specialized if s.teacher == teacher]
        model = self.members[teacher]
        inputs = self._member_inputs(model, inputs)
        if not self.use_masknets:
            return model(inputs).unsqueeze(0)
        # Paper: teacher j uses MaskNet j alone. Release (stage 3): the
        # earlier hooks stay registered, so teacher j runs masks 1..j.
        stacked = self.compat['stacked_masks'] and self.stage == 's3'
        pairs = [(s.path, self.masknets[s.key]) for s in specs]
        # a 1-tuple: members take the inputs dict as one argument
        return batched_specialized_forward(model, pairs, (inputs, ),
                                           stacked=stacked)

    def specialized_teacher_logits(
            self, inputs: Dict[str, torch.Tensor]) -> torch.Tensor:
        """``(N, B, C)``: every specialized teacher, in :attr:`specialized`
        order."""
        return torch.cat([
            self._teacher_forward(t, inputs) for t in self.teacher_layers
        ])

    @staticmethod
    def _member_inputs(model: nn.Module, inputs):
        """The part of a batch a member reads: repeat only the modalities
        this teacher reads (a dense batch is one tensor, read whole)."""
        if isinstance(inputs, torch.Tensor):
            return inputs
        used = getattr(model, 'modalities', None) or tuple(inputs)
        return {k: inputs[k] for k in used}

    @torch.no_grad()
    def _frozen_teacher_logits(self, inputs, sample_idx) -> torch.Tensor:
        """S3 teachers are frozen: no autograd, and optionally cached per
        training sample across epochs."""
        if not self.cache_teacher_outputs or sample_idx is None:
            return self.specialized_teacher_logits(inputs)
        ids = [i.item() if isinstance(i, torch.Tensor) else i
               for i in sample_idx]
        if all(i in self._teacher_cache for i in ids):
            return torch.stack([self._teacher_cache[i] for i in ids], dim=1)
        logits = self.specialized_teacher_logits(inputs)
        for col, i in enumerate(ids):
            self._teacher_cache[i] = logits[:, col].clone()
        return logits

    # ------------------------------------------------------------------
    # losses
    # ------------------------------------------------------------------
    # Task hooks: classification here; DenseMSTDistill overrides them for
    # segmentation (label maps with void pixels, SegDataSample outputs).
    ignore_index = -100

    def _labels(self, data_samples) -> torch.Tensor:
        return data_samples['gt_label']

    def _sample_idx(self, data_samples):
        return data_samples.get('sample_idx')

    def _valid_mask(self, labels) -> Optional[torch.Tensor]:
        """Elements a KL term averages over (None: all samples)."""
        return None

    def _predictions(self, student: torch.Tensor, data_samples):
        return pack_predictions(student, data_samples)

    def _kl_kwargs(self, labels=None) -> dict:
        kwargs = dict(temperature=self.temperature,
                      scale_by_t2=self.scale_by_t2)
        mask = None if labels is None else self._valid_mask(labels)
        if mask is not None:
            kwargs.update(valid_mask=mask, normalize='all'
                          if self.compat['dense_kd_divide_all'] else 'valid')
        return kwargs

    def _ce(self, logits, labels) -> torch.Tensor:
        return nn.functional.cross_entropy(logits, labels,
                                           ignore_index=self.ignore_index)

    def loss_s1(self, inputs, labels) -> Dict[str, torch.Tensor]:
        """Eq. 1-4: CE for every member + bidirectional KL between every
        pair, without detaching (``collaborative='joint'``)."""
        logits = {name: m(self._member_inputs(m, inputs))
                  for name, m in self.members.items()}
        if self.collaborative == 'independent':
            return {f'loss_ce_{n}': self._ce(z, labels)
                    for n, z in logits.items()}
        return collaborative_loss(logits, labels,
                                  detach=self.collaborative == 'dml',
                                  ignore_index=self.ignore_index,
                                  **self._kl_kwargs(labels))

    def _student_forward(self, inputs) -> torch.Tensor:
        student = self.members[self.target]
        return student(self._member_inputs(student, inputs))

    def loss_s2(self, inputs, labels=None) -> Dict[str, torch.Tensor]:
        """Eq. 8-10 for every MaskNet. Each loss depends on its own MaskNet
        only, so one optimizer over the sum trains each MaskNet alone."""
        with torch.no_grad():
            student = self._student_forward(inputs)
        teachers = self.specialized_teacher_logits(inputs)
        kwargs = self._kl_kwargs(labels)
        return {
            f'loss_mask_{spec.key}': specialized_teacher_loss(
                student, teachers[j], **kwargs)
            for j, spec in enumerate(self.specialized)
        }

    def loss_s3(self, inputs, labels,
                sample_idx=None) -> Dict[str, torch.Tensor]:
        """Eq. 11-18: student CE + lambda1 * top-k KL + lambda2 * LB."""
        student = self._student_forward(inputs)
        teachers = self._frozen_teacher_logits(inputs, sample_idx)
        lambda1, lambda2 = self.lambdas()
        kwargs = self._kl_kwargs(labels)
        losses = dict(loss_ce=self._ce(student, labels))
        if self.routing == 'mean':
            losses['loss_dkd'] = lambda1 * mean_teacher_loss(
                student, teachers, **kwargs)
            self._update_routing_stats(None, None)
            return losses
        # Paper: the GateNet reads the student's logits (Eq. 11-12); only
        # the release lets the LB gradient reach the student through them.
        gate_in = student if self.compat['gate_reference'] else \
            student.detach()
        probs, topk_idx = self.gate.route(gate_in, self.k)
        losses['loss_dkd'] = lambda1 * dkd_loss(
            student, teachers, topk_idx, **kwargs)
        losses['loss_lb'] = lambda2 * load_balance_loss(
            probs, mode=self.lb_mode,
            reference_compat=self.compat['lb_divide_by_n'])
        self._update_routing_stats(probs, topk_idx)
        return losses

    # ------------------------------------------------------------------
    # routing statistics (paper Fig. 4)
    # ------------------------------------------------------------------
    def _reset_routing_stats(self) -> None:
        self.routing_stats = dict(prob_sum=torch.zeros(self.num_teachers),
                                  topk_count=torch.zeros(self.num_teachers),
                                  samples=torch.zeros(()))

    @torch.no_grad()
    def _update_routing_stats(self, probs, topk_idx) -> None:
        """Accumulate on the device of ``probs`` (no host sync per step)."""
        if probs is None:
            return
        stats = _on_device(self.routing_stats, probs.device)
        stats['prob_sum'] += probs.detach().sum(0)
        stats['topk_count'] += torch.bincount(
            topk_idx.flatten(), minlength=self.num_teachers).float()
        stats['samples'] += probs.shape[0]

    def pop_routing_stats(self) -> Dict[str, torch.Tensor]:
        """The epoch's sums (to be all-reduced by the caller), then reset."""
        stats = self.routing_stats
        self._reset_routing_stats()
        return stats

    # ------------------------------------------------------------------
    # MaskNet validation in S2 (the best state of every MaskNet is kept)
    # ------------------------------------------------------------------
    def _reset_masknet_val(self) -> None:
        self.masknet_val = dict(kl_sum=torch.zeros(self.num_teachers),
                                samples=torch.zeros(()))

    def pop_masknet_val(self) -> Dict[str, torch.Tensor]:
        val = self.masknet_val
        self._reset_masknet_val()
        return val

    @torch.no_grad()
    def _track_masknet_val(self, inputs, student, labels=None) -> None:
        """Sum the validation KL (Eq. 10) of every MaskNet; ``samples``
        counts the averaged elements (samples, or valid pixels)."""
        teachers = self.specialized_teacher_logits(inputs)
        val = _on_device(self.masknet_val, student.device)
        kwargs = self._kl_kwargs(labels)
        kwargs.pop('normalize', None)
        mask = kwargs.get('valid_mask')
        for j in range(self.num_teachers):
            kl = kl_divergence(student, teachers[j], reduction='none',
                               **kwargs)
            val['kl_sum'][j] += kl.sum()
        val['samples'] += (student.shape[0] if mask is None else
                           mask.sum())

    def update_best_masknets(self, mean_kl: Sequence[float]) -> List[str]:
        """Keep a copy of every MaskNet whose validation KL improved."""
        improved = []
        for spec, kl in zip(self.specialized, mean_kl):
            if kl < self._best_masknet_kl.get(spec.key, float('inf')):
                self._best_masknet_kl[spec.key] = float(kl)
                self._best_masknets[spec.key] = copy.deepcopy(
                    {k: v.detach().cpu() for k, v in
                     self.masknets[spec.key].state_dict().items()})
                improved.append(spec.name)
        return improved

    def load_best_masknets(self) -> None:
        for key, state in self._best_masknets.items():
            self.masknets[key].load_state_dict(state)

    def mst_state(self) -> dict:
        """Training state that is not a parameter: the best state of every
        MaskNet and its validation KL. :class:`MSTStateHook` stores it in
        checkpoints (``checkpoint['mst_state']``)."""
        return dict(best_masknets=self._best_masknets,
                    best_masknet_kl=self._best_masknet_kl)

    def load_mst_state(self, state: dict) -> None:
        self._best_masknets = dict(state.get('best_masknets', {}))
        self._best_masknet_kl = dict(state.get('best_masknet_kl', {}))

    # ------------------------------------------------------------------
    # mmengine API
    # ------------------------------------------------------------------
    def forward(self, inputs: Dict[str, torch.Tensor],
                data_samples: Optional[dict] = None, mode: str = 'tensor'):
        if mode == 'loss':
            labels = self._labels(data_samples)
            if self.stage == 's1':
                return self.loss_s1(inputs, labels)
            if self.stage == 's2':
                return self.loss_s2(inputs, labels)
            return self.loss_s3(inputs, labels,
                                self._sample_idx(data_samples))
        student = self._student_forward(inputs)
        if mode == 'tensor':
            return student
        if mode == 'predict':
            if self.stage == 's2' and self.masknets_built \
                    and self.use_masknets:
                self._track_masknet_val(inputs, student,
                                        self._labels(data_samples))
            return self._predictions(student, data_samples)
        raise ValueError(f'Invalid mode "{mode}": use tensor, loss or '
                         'predict.')

    def student_state_dict(self) -> Dict[str, torch.Tensor]:
        """The deployable student's weights alone."""
        return self.members[self.target].state_dict()
