"""MST-Distill: Mixture of Specialized Teachers (ACM MM 2025), Sec. 3.

MST-Distill on :class:`ConfigurableDistiller`: its three stages and their
losses are declared from the options below; what declaration cannot say is
here: the MaskNets (one per (teacher, layer path) pair, Eq. 5-6, inserted by
forward hooks), the specialized teachers' logits (Eq. 9, one batched
forward per base teacher) and the GateNet's routing (Eq. 11-13).

- ``s1`` (Eq. 1-4): every member trains; ``loss_ce_<member>`` (Eq. 1) and
  ``loss_align`` (Eq. 2, :class:`~mstkd.models.losses.MutualKLLoss`, no
  detach).
- ``s2`` (Eq. 8-10): only the MaskNets train; one
  ``loss_mask_<teacher>__<path>`` per specialized teacher (KL of the
  detached student to the masked teacher); each depends on its own MaskNet
  only, so one optimizer over the sum trains each MaskNet alone.
- ``s3`` (Eq. 11-18): the student and the GateNet train; ``loss_ce``
  (Eq. 15), ``loss_routed_kd`` (Eq. 14, weight ``lambda_1``) and
  ``loss_lb`` (Eq. 17, weight ``lambda_2``).

Records the losses read, besides the members' logits: ``specialized_logits``
``(N, B, C[, H, W])``, ``gate_probs`` ``(B, N)`` and ``gate_topk``
``(B, k)``. Side work of the method lives in hooks:
:class:`~mstkd.engine.hooks.MaskNetSelectionHook` (best S2 state of every
MaskNet by validation KL, restored for S3, Algorithm 1 lines 9-15) and
:class:`~mstkd.engine.hooks.RoutingStatsHook` (Fig. 4 statistics).
"""
import logging
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.logging import print_log

from mstkd.registry import MODELS
from mstkd.utils.errors import UserInputError
from ..losses.teacher_quality_loss import best_teacher
from ..losses.utils import kl_divergence
from ..mst.hook_point_cache import NotSplittable, SplitTeacher, StoreGroup
from ..mst.mask_hooks import batched_specialized_forward
from ..task_modules.layer_paths import (infer_feature_shapes,
                                        split_layer_path,
                                        validate_layer_paths)
from ..task_modules.recorder import record_key
from .base_distiller import Inputs, split_batch
from .configurable_distiller import ConfigurableDistiller

#: Where the public reference release (Gray-OREO/MST-Distill, 093b2fe)
#: differs from the paper; ``reference_compat`` switches them on
#: (docs/method.md has the table, with the release's file and function).
COMPAT_ITEMS = ('stacked_masks', 'lb_divide_by_n', 'decay_from_epoch0',
                'gate_reference', 'dense_kd_divide_all',
                'learned_spatial_reduction', 'routed_kd_mean_over_k',
                'lb_cv_unsquared', 'joint_masknet_selection')
#: Routings of S3: the paper's ('topk', 'mean') and mstkd's options.
ROUTINGS = ('topk', 'mean', 'soft', 'gumbel', 'random')
#: Routings with a GateNet (trained by the load balance, Eq. 17).
GATED_ROUTINGS = ('topk', 'soft', 'gumbel')
STAGE_TITLES = dict(s1='S1 collaborative initialization',
                    s2='S2 specialized teacher adaptation',
                    s3='S3 dynamic knowledge distillation')


S2_CACHE_DTYPES = dict(float32=torch.float32, float16=torch.float16,
                       bfloat16=torch.bfloat16)


def parse_s2_cache(value: Union[bool, dict, None]) -> Optional[dict]:
    """``s2_cache``: False/None (off), True (defaults) or a dict of
    ``dtype`` and ``ram_budget_gb``."""
    if not value:
        return None
    cfg = dict(dtype='float32', ram_budget_gb=4.0)
    if isinstance(value, dict):
        unknown = set(value) - set(cfg)
        if unknown:
            raise UserInputError(
                f's2_cache: unknown keys {sorted(unknown)}; valid: '
                f'{sorted(cfg)}.')
        cfg.update(value)
    if cfg['dtype'] not in S2_CACHE_DTYPES:
        raise UserInputError(f"s2_cache.dtype must be one of "
                             f"{list(S2_CACHE_DTYPES)}, got {cfg['dtype']!r}.")
    if not float(cfg['ram_budget_gb']) >= 0:
        raise UserInputError('s2_cache.ram_budget_gb must be >= 0, got '
                             f"{cfg['ram_budget_gb']}.")
    return cfg


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


class SpecializedTeacher:
    """Bookkeeping of one specialized teacher: base teacher + layer path."""

    def __init__(self, teacher: str, path: Optional[str]):
        self.teacher = teacher
        self.path = path
        self.name = teacher if path is None else f'{teacher}:{path}'
        self.key = self.name.replace('.', '_').replace(':', '__')


def mst_declaration(members: Sequence[str], target: str,
                    specialized: List[SpecializedTeacher], *,
                    temperature: float, scale_by_t2: bool,
                    collaborative: str, routing: str, lb_mode: str,
                    lambda1: dict, lambda2: dict,
                    compat: Dict[str, bool],
                    gate_target: Optional[str] = None,
                    gate_target_weight: float = 1.0
                    ) -> Tuple[dict, dict, dict]:
    """MST-Distill's losses, loss mappings and stages, as data."""
    kl = dict(temperature=temperature, scale_by_t2=scale_by_t2,
              normalize='all' if compat['dense_kd_divide_all'] else 'valid')
    student = record_key(target)
    losses, mappings = {}, {}

    def declare(name, cfg, mapping):
        losses[name] = cfg
        mappings[name] = mapping

    # S1 (Eq. 1-4)
    s1 = []
    for name in members:
        declare(f'loss_ce_{name}', dict(type='CrossEntropyLoss'),
                dict(logits=record_key(name), labels='labels'))
        s1.append(f'loss_ce_{name}')
    if collaborative != 'independent':
        declare('loss_align',
                dict(type='MutualKLLoss', detach=collaborative == 'dml',
                     **kl),
                dict(logits=[record_key(name) for name in members]))
        s1.append('loss_align')
    # S2 (Eq. 8-10): KL(student.detach() || masked teacher j)
    s2 = []
    for j, spec in enumerate(specialized):
        if spec.path is None:
            break  # no MaskNets (S2 skipped)
        declare(f'loss_mask_{spec.key}', dict(type='KLDivergenceLoss', **kl),
                dict(pred=dict(source='specialized_logits', index=j),
                     target=student))
        s2.append(f'loss_mask_{spec.key}')
    # S3 (Eq. 11-18)
    rounding = 'ceil' if compat['decay_from_epoch0'] else 'floor'
    declare('loss_ce', dict(type='CrossEntropyLoss'),
            dict(logits=student, labels='labels'))
    routed = dict(student_logits=student,
                  teacher_logits='specialized_logits')
    if routing in ('topk', 'random'):
        routed['topk_idx'] = 'gate_topk'
    elif routing in ('soft', 'gumbel'):
        routed['weights'] = 'gate_weights'
    declare('loss_routed_kd',
            dict(type='RoutedKDLoss',
                 topk_reduction='mean' if compat['routed_kd_mean_over_k']
                 else 'sum',
                 loss_weight=dict(type='StepDecay', rounding=rounding,
                                  **lambda1), **kl), routed)
    s3 = ['loss_ce', 'loss_routed_kd']
    gated = routing in GATED_ROUTINGS
    if gated:
        declare('loss_lb',
                dict(type='LoadBalanceLoss', mode=lb_mode,
                     divide_by_n=compat['lb_divide_by_n'],
                     cv_squared=not compat['lb_cv_unsquared'],
                     loss_weight=dict(type='StepDecay', rounding=rounding,
                                      **lambda2)),
                dict(probs='gate_probs'))
        s3.append('loss_lb')
    if gate_target is not None:
        declare('loss_gate_target',
                dict(type='TeacherQualityLoss', criterion=gate_target,
                     temperature=temperature, loss_weight=gate_target_weight),
                dict(probs='gate_probs', teacher_logits='specialized_logits',
                     labels='labels', student_logits=student))
        s3.append('loss_gate_target')
    stages = dict(
        s1=dict(trainable=['members'], losses=s1),
        s2=dict(trainable=['masknets'], losses=s2),
        s3=dict(trainable=['student'] + (['gate'] if gated else []),
                losses=s3))
    for name, spec in stages.items():
        spec['title'] = STAGE_TITLES[name]
    return losses, mappings, stages


@MODELS.register_module()
class MSTDistill(ConfigurableDistiller):
    """The MST-Distill algorithm (classification and segmentation).

    Args:
        members (dict): Member name -> network config. The multimodal member
            (e.g. ``mm``) and one unimodal member per modality (named by the
            modality); every network maps the batch's ``inputs`` to logits.
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
        routing (str): 'topk' (Eq. 13-14, the paper) or 'mean' (average
            KL over all teachers, no GateNet: the settings of Table 3
            without S3). mstkd's options (not in the paper, whose gate only
            the load-balancing loss trains): 'soft' (every teacher's KL
            weighted by the gate's probabilities, so the gate gets the
            distillation gradient), 'gumbel' (one teacher per sample drawn
            by straight-through Gumbel-softmax of the gate's scores, k = 1)
            and 'random' (k teachers drawn uniformly per sample, no gate:
            the control the paper does not report).
        gate_target (str, optional): A supervised target for the gate:
            'ce' (per sample the teacher with the lowest CE on the true
            label) or 'kl' (lowest KL to the student), trained by
            :class:`~mstkd.models.losses.TeacherQualityLoss` beside the
            load balance. Defaults to None (the paper).
        gate_target_weight (float): Its weight. Defaults to 1.0.
        gumbel_tau (float): Gumbel-softmax temperature of
            ``routing='gumbel'``. Defaults to 1.0.
        masknet (dict): MaskNet options (``hidden_dim``, ``num_heads``,
            ``projector``: 'full' (paper) or 'light').
        gate (dict): GateNet config (``type='DenseGateNet'`` for
            segmentation); ``in_channels`` and ``num_teachers`` are filled
            in.
        lambda1 (dict): KD weight schedule of Eq. 18: ``initial``, ``step``,
            ``factor`` (paper: 1.0 halved every 30 epochs).
        lambda2 (dict): Load-balance weight schedule (paper: 1.0, -10% every
            10 epochs).
        lb_mode (str): 'kl' (Eq. 17) or 'cv' (Table 8).
        reference_compat (bool | dict): Reproduce the public release where it
            differs from the paper (see :data:`COMPAT_ITEMS` and docs).
        cache_teacher_outputs (bool): Compute the frozen specialized teachers'
            logits once per training sample (by the task's sample ids) and
            reuse them in every S3 epoch. Valid when the training pipeline
            is deterministic (no augmentation: the reference protocol).
            Defaults to True; set False for segmentation (N logit maps per
            image do not fit in memory at 480 x 640).
        s2_cache (bool | dict): Hook-point caching in S2: the frozen
            teachers' values at their hooked layers (and the frozen
            student's logits) are computed once per training sample and
            each S2 step runs only MaskNet -> mask -> the teacher after the
            hook (:mod:`mstkd.models.mst.hook_point_cache`). Same
            mathematics (float32 storage: the same MaskNet weights up to
            float rounding); valid when the training pipeline is
            deterministic, as ``cache_teacher_outputs``. True (default)
            or a dict: ``dtype`` ('float32'; 'float16' or 'bfloat16',
            halving the size), ``ram_budget_gb`` (4.0; past it segments go
            to files in ``<work_dir>/s2_cache``, read with file I/O, not
            mapped, so they do not count in the process's memory; deleted
            when S2 ends). False runs S2 uncached. A teacher
            ``torch.fx`` cannot split runs uncached (the reason is logged).
        task (dict, optional): ``dict(type='ClsTask')`` (default) or
            ``dict(type='SegTask', ignore_index=255)``.
        pretrained (dict, optional): Members starting from a checkpoint
            (e.g. an earlier run's ``s1_end.pth`` to skip S1).
        micro_batch (int | dict, optional): Micro-batch size of every
            stage, or stage -> size, e.g. ``dict(s2=64)``: each training
            batch runs in chunks whose gradients accumulate into one
            optimizer step (:meth:`~mstkd.models.BaseDistiller.train_step`),
            so the peak memory of the full-projector MaskNets scales with
            the chunk. Exact (up to float rounding) in S1 and S2 (per-sample
            means), unless BatchNorm trains there (members with BatchNorm in
            S1, MaskNets with ``spatial_reduction='learned'`` in S2);
            approximate in S3 (the load balance is on the batch mean).
            Defaults to None.
        frozen_teacher_chunk (int, optional): S3's frozen specialized
            teachers (no autograd, eval mode) run on chunks of this many
            samples: the same logits, with the memory of their forward (the
            K-times repeated batch, see :meth:`_teacher_forward`) bounded by
            the chunk instead of the batch. Unlike ``micro_batch`` in S3 the
            loss is still taken on the whole batch, so the result is exact.
            Defaults to None (whole batches).
        data_preprocessor (dict, optional): Defaults to mmengine's.
        init_cfg (dict, optional): Weight initialisation config.
    """

    components = ('connectors', 'masknets', 'gate')
    #: The paper's names of the scheduled loss weights (Eq. 18), shown in
    #: the training log lines by StageLogProcessor.
    loss_weight_names = dict(loss_routed_kd='lambda1', loss_lb='lambda2')
    products = ('specialized_logits', 'gate_probs', 'gate_topk',
                'gate_weights')

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
                 gate_target: Optional[str] = None,
                 gate_target_weight: float = 1.0,
                 gumbel_tau: float = 1.0,
                 masknet: Optional[dict] = None,
                 gate: Optional[dict] = None,
                 lambda1: Optional[dict] = None,
                 lambda2: Optional[dict] = None,
                 lb_mode: str = 'kl',
                 reference_compat: Union[bool, dict] = False,
                 cache_teacher_outputs: bool = True,
                 s2_cache: Union[bool, dict] = True,
                 task: Optional[dict] = None,
                 pretrained: Optional[dict] = None,
                 micro_batch: Union[None, int, Dict[str, int]] = None,
                 frozen_teacher_chunk: Optional[int] = None,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None):
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
        if routing not in ROUTINGS:
            raise UserInputError(
                f"routing must be 'topk' or 'mean' (the paper), or one of "
                f"'soft', 'gumbel', 'random'; got '{routing}'.")
        if gate_target not in (None, 'ce', 'kl'):
            raise UserInputError("gate_target must be None, 'ce' or 'kl', "
                                 f"got '{gate_target}'.")
        if gate_target is not None and routing not in GATED_ROUTINGS:
            raise UserInputError(
                f"gate_target trains the GateNet, which routing='{routing}' "
                f'does not have; use one of {list(GATED_ROUTINGS)}.')
        if routing == 'gumbel' and k != 1:
            raise UserInputError("routing='gumbel' selects one teacher per "
                                 f'sample (k = 1); got k={k}.')
        if lb_mode not in ('kl', 'cv'):
            raise UserInputError(
                f"lb_mode must be 'kl' or 'cv', got '{lb_mode}'.")
        teacher_layers = {t: list(p) for t, p in teachers.items()}
        specialized = [
            SpecializedTeacher(t, p) for t, paths in teacher_layers.items()
            for p in (paths if use_masknets else [None])
        ]
        if routing != 'mean' and not 1 <= k <= len(specialized):
            raise UserInputError(f'k must be in 1..N={len(specialized)}, '
                                 f'got {k}.')
        compat = parse_reference_compat(reference_compat)
        lambda1 = dict(dict(initial=1.0, step=30, factor=0.5),
                       **(lambda1 or {}))
        lambda2 = dict(dict(initial=1.0, step=10, factor=0.9),
                       **(lambda2 or {}))
        losses, mappings, stages = mst_declaration(
            list(members), target, specialized, temperature=temperature,
            scale_by_t2=scale_by_t2, collaborative=collaborative,
            routing=routing, lb_mode=lb_mode, lambda1=lambda1,
            lambda2=lambda2, compat=compat, gate_target=gate_target,
            gate_target_weight=gate_target_weight)
        super().__init__(
            members, target, losses=losses,
            loss_forward_mappings=mappings, stages=stages, task=task,
            pretrained=pretrained, micro_batch=micro_batch,
            data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.teacher_layers = teacher_layers
        for name, paths in teacher_layers.items():
            # Fail before training, listing the valid paths.
            validate_layer_paths(self.members[name], paths)
            inputs = [p for p in paths if split_layer_path(p)[1]]
            if inputs:
                raise UserInputError(
                    f'teachers.{name}: {inputs} name layer inputs; a '
                    "MaskNet masks a layer's output: drop the '@input' "
                    'suffix.')
        self.specialized = specialized
        self.num_teachers = len(specialized)
        self.use_masknets = use_masknets
        self.k = k
        self.temperature = temperature
        self.scale_by_t2 = scale_by_t2
        self.collaborative = collaborative
        self.routing = routing
        self.gate_target = gate_target
        self.gumbel_tau = gumbel_tau
        self.lb_mode = lb_mode
        self.compat = compat
        self.cache_teacher_outputs = cache_teacher_outputs
        if frozen_teacher_chunk is not None and not (
                isinstance(frozen_teacher_chunk, int)
                and frozen_teacher_chunk > 0):
            raise UserInputError(
                'frozen_teacher_chunk must be a positive int (samples per '
                f'chunk) or None, got {frozen_teacher_chunk!r}.')
        self.frozen_teacher_chunk = frozen_teacher_chunk
        self.s2_cache = parse_s2_cache(s2_cache)
        #: where S2 cache segments past the RAM budget go (S2CacheHook)
        self.s2_cache_dir: Optional[str] = None
        self._split_teachers: Dict[str, Optional[SplitTeacher]] = {}
        self._s2_store: Optional[StoreGroup] = None
        self._step_ids = None
        self.masknet_cfg = dict(masknet or {})
        if compat['learned_spatial_reduction']:
            self.masknet_cfg['spatial_reduction'] = 'learned'
        #: 'per_masknet' (each MaskNet's best S2 epoch) or 'joint' (the
        #: release); read by MaskNetSelectionHook.
        self.masknet_selection = 'joint' if \
            compat['joint_masknet_selection'] else 'per_masknet'

        gate_cfg = dict(dict(type='GateNet'), **(gate or {}))
        if compat['gate_reference']:
            if gate_cfg['type'] == 'DenseGateNet':
                gate_cfg['arch'] = 'conv'  # release: GateNet_dense
            else:
                gate_cfg['act'] = None  # release: Linear -> Linear
        gate_cfg.update(in_channels=self.num_classes,
                        num_teachers=self.num_teachers)
        self.gate = MODELS.build(gate_cfg) if routing in GATED_ROUTINGS \
            else None
        self.masknets = nn.ModuleDict()  # built by setup()
        self._teacher_cache: Dict[object, torch.Tensor] = {}
        #: The last S3 step's routing for RoutingStatsHook: ``probs``
        #: ``(B, N)``, ``topk`` ``(B, k)`` and, for classification,
        #: ``labels`` and ``best`` (the teacher with the lowest CE).
        self.last_routing: Optional[Dict[str, torch.Tensor]] = None
        self.set_stage(self.stage)

    # ------------------------------------------------------------------
    # MaskNets
    # ------------------------------------------------------------------
    @property
    def masknets_built(self) -> bool:
        return not self.use_masknets or len(self.masknets) > 0

    @property
    def masknet_stage(self) -> str:
        """The stage that trains the MaskNets."""
        return 's2'

    @property
    def masknets_training(self) -> bool:
        return 'masknets' in self.stages[self.stage]['trainable']

    def setup(self, example_inputs: Inputs, stages: Sequence[str]) -> None:
        """Build the MaskNets when S2 or S3 runs."""
        super().setup(example_inputs, stages)
        if self.use_masknets and {'s2', 's3'} & set(stages):
            self.build_masknets(example_inputs)

    @torch.no_grad()
    def build_masknets(self, inputs: Inputs) -> None:
        """Create one MaskNet per specialized teacher.

        The feature shape at every layer path is inferred by a dry forward
        of the base teacher on ``inputs`` (one example batch): never written
        in configs. A spatial feature ``(C, H, W)`` gets a MaskNet over its C
        channels (spatial reduction, mask broadcast over H, W).
        """
        if self.masknets_built:
            return
        for teacher, paths in self.teacher_layers.items():
            shapes = infer_feature_shapes(
                self.members[teacher], paths,
                self.member_inputs(teacher, inputs))
            for spec in self.specialized:
                if spec.teacher != teacher:
                    continue
                cfg = dict(dict(type='MaskNet'), **self.masknet_cfg)
                shape = tuple(shapes[spec.path])
                cfg['in_channels'] = int(shape[0])
                if not (len(shape) == 3 and shape[-1] != 1):
                    # as the release: learned reduction only for (C, H, W)
                    # maps with W > 1; vectors and (C, 1, 1) take the mean
                    cfg['spatial_reduction'] = 'mean'
                self.masknets[spec.key] = MODELS.build(cfg)
        self.masknets.to(next(self.members.parameters()).device)
        print_log(
            'MaskNets: ' + ', '.join(
                f'{s.name} (d={self.masknets[s.key].in_channels})'
                for s in self.specialized), logger='current')
        self.set_stage(self.stage, self.stage_epoch)

    def set_stage(self, stage: str, stage_epoch: int = 0) -> None:
        if stage == 's2' and not self.masknets_built:
            raise RuntimeError('The MaskNets are built by setup() (the '
                               'multi-stage loop calls it) before S2.')
        if stage != self.stage:
            self._teacher_cache.clear()
            self.clear_s2_cache()
        super().set_stage(stage, stage_epoch)

    # ------------------------------------------------------------------
    # specialized teachers
    # ------------------------------------------------------------------
    def _teacher_forward(self, teacher: str, inputs: Inputs) -> torch.Tensor:
        """Logits ``(K, B, C)`` of the K specialized teachers of one base
        teacher, in ONE forward of the K-times repeated batch: a hook at
        each layer masks its own chunk (chunk j = specialized teacher j)."""
        model = self.members[teacher]
        inputs = self.member_inputs(teacher, inputs)
        if not self.use_masknets:
            return model(inputs).unsqueeze(0)
        # Paper: teacher j uses MaskNet j alone. Release (stage 3): the
        # earlier hooks stay registered, so teacher j runs masks 1..j.
        stacked = self.compat['stacked_masks'] and not self.masknets_training
        pairs = [(s.path, self.masknets[s.key]) for s in self.specialized
                 if s.teacher == teacher]
        # a 1-tuple: members take the inputs (dict or tensor) as one argument
        return batched_specialized_forward(model, pairs, (inputs, ),
                                           stacked=stacked)

    def specialized_teacher_logits(self, inputs: Inputs) -> torch.Tensor:
        """``(N, B, C[, H, W])``: every specialized teacher (Eq. 9), in
        :attr:`specialized` order."""
        return torch.cat([
            self._teacher_forward(t, inputs) for t in self.teacher_layers
        ])

    def _chunked_teacher_logits(self, inputs: Inputs) -> torch.Tensor:
        """:meth:`specialized_teacher_logits` in chunks of
        ``frozen_teacher_chunk`` samples (frozen teachers only)."""
        size = self.frozen_teacher_chunk
        chunks = split_batch((inputs, ), size) if size else []
        if len(chunks) <= 1:
            return self.specialized_teacher_logits(inputs)
        return torch.cat([self.specialized_teacher_logits(chunk[0])
                          for chunk, _ in chunks], dim=1)

    @torch.no_grad()
    def _frozen_teacher_logits(self, inputs: Inputs, sample_ids):
        """Frozen teachers (S3): no autograd, and optionally cached per
        training sample across epochs."""
        if not self.cache_teacher_outputs or sample_ids is None:
            return self._chunked_teacher_logits(inputs)
        if all(i in self._teacher_cache for i in sample_ids):
            return torch.stack([self._teacher_cache[i] for i in sample_ids],
                               dim=1)
        logits = self._chunked_teacher_logits(inputs)
        for col, i in enumerate(sample_ids):
            self._teacher_cache[i] = logits[:, col].clone()
        return logits

    # ------------------------------------------------------------------
    # S2 hook-point cache
    # ------------------------------------------------------------------
    def clear_s2_cache(self) -> None:
        """Drop the S2 hook-point cache (its disk segments too)."""
        if self._s2_store is not None:
            self._s2_store.clear()
        self._s2_store = None

    @property
    def s2_cache_store(self) -> Optional[StoreGroup]:
        """The S2 cache in use (None before the first S2 step)."""
        return self._s2_store

    def _s2_caching(self) -> bool:
        return self.s2_cache is not None and self.masknets_training and \
            self._step_ids is not None and torch.is_grad_enabled()

    def _store(self) -> StoreGroup:
        if self._s2_store is None:
            cfg = self.s2_cache
            self._s2_store = StoreGroup(
                S2_CACHE_DTYPES[cfg['dtype']],
                float(cfg['ram_budget_gb']) * 2**30,
                self.s2_cache_dir)
        return self._s2_store

    def _cached(self, keys: Dict[str, str], ids: list, member: str,
                compute) -> Dict[str, torch.Tensor]:
        """``{name: (B, ...)}`` for the store keys ``{name: key}`` of the
        samples ``ids``: from the store when every sample is there,
        otherwise ``compute()`` (the same names), stored for the samples
        not there yet."""
        store = self._store()
        if all(store.has(k, ids) for k in keys.values()):
            device = next(self.members[member].parameters()).device
            return {name: store.get(k, ids, device)
                    for name, k in keys.items()}
        values = compute()
        for name, k in keys.items():
            store.put(k, ids, values[name])
        return values

    def _split_teacher(self, teacher: str,
                       inputs: Inputs) -> Optional[SplitTeacher]:
        """The teacher split at its hooked layers (built and checked on
        the first S2 batch), or None where it cannot be split."""
        if teacher not in self._split_teachers:
            model = self.members[teacher]
            keys = list(inputs) if isinstance(inputs, dict) else None
            try:
                split = SplitTeacher(model, self.teacher_layers[teacher],
                                     keys)
                split.check(model, inputs)
            except NotSplittable as e:
                split = None
                print_log(f'S2 hook-point cache: teacher {teacher} runs '
                          f'uncached: {e}.', logger='current',
                          level=logging.WARNING)
            else:
                print_log(
                    f'S2 hook-point cache: teacher {teacher} split at '
                    f'{split.paths}; cached per sample: '
                    f'{split.cut_names}.', logger='current')
            self._split_teachers[teacher] = split
        return self._split_teachers[teacher]

    def _cached_teacher_forward(self, teacher: str, inputs: Inputs,
                                ids: list) -> torch.Tensor:
        """``(K, B, C)`` of one base teacher's specialized teachers from
        its cached hook-point values (filled on a miss)."""
        inputs = self.member_inputs(teacher, inputs)
        split = self._split_teacher(teacher, inputs)
        if split is None:
            return self._teacher_forward(teacher, inputs)
        cut = self._cached({name: f'{teacher}.{name}'
                            for name in split.cut_names}, ids, teacher,
                           lambda: split.prefix(inputs))
        return torch.stack([
            split.suffix_forward(s.path, cut, self.masknets[s.key])
            for s in self.specialized if s.teacher == teacher])

    def compute_records(self, keys, inputs: Inputs, data_samples) -> dict:
        self._step_ids = self.task.sample_ids(data_samples) \
            if self.s2_cache is not None and self.masknets_training else None
        try:
            return super().compute_records(keys, inputs, data_samples)
        finally:
            self._step_ids = None

    def record_member(self, name: str, paths, inputs: Inputs) -> dict:
        if name != self.target or any(paths) or not self._s2_caching():
            return super().record_member(name, paths, inputs)
        # the frozen student's logits (the S2 target), cached per sample
        key = record_key(name)
        return self._cached(
            {key: f'{name}.logits'}, self._step_ids, name,
            lambda: super(MSTDistill, self).record_member(name, paths,
                                                          inputs))

    def add_products(self, records: dict, keys, inputs: Inputs,
                     data_samples) -> None:
        if 'specialized_logits' in keys:
            if self._s2_caching():
                logits = torch.cat([
                    self._cached_teacher_forward(t, inputs, self._step_ids)
                    for t in self.teacher_layers])
            elif self.masknets_training:
                logits = self.specialized_teacher_logits(inputs)
            else:
                logits = self._frozen_teacher_logits(
                    inputs, self.task.sample_ids(data_samples))
            records['specialized_logits'] = logits
        if {'gate_probs', 'gate_topk', 'gate_weights'} & set(keys):
            self.route(records)

    def route(self, records: dict) -> None:
        """The routing products of one S3 step: ``gate_probs`` ``(B, N)``,
        ``gate_topk`` ``(B, k)``, ``gate_weights`` ``(B, N)`` (soft and
        Gumbel routing), and :attr:`last_routing` for the statistics."""
        student = records[record_key(self.target)]
        teachers = records.get('specialized_logits')
        batch = student.shape[0]
        if self.routing == 'random':
            # k distinct teachers per sample, uniformly (no gate)
            probs = student.new_full((batch, self.num_teachers),
                                     1.0 / self.num_teachers).detach()
            topk_idx = torch.rand(batch, self.num_teachers,
                                  device=student.device).topk(
                                      self.k, dim=1).indices
        else:
            # Paper: the GateNet reads the student's logits (Eq. 11-12);
            # only the release lets the LB gradient reach the student.
            gate_in = student if self.compat['gate_reference'] else \
                student.detach()
            probs, topk_idx = self.gate.route(gate_in, self.k)
            if self.routing == 'soft':
                records['gate_weights'] = probs
            elif self.routing == 'gumbel':
                # straight-through: a one-hot selection forward, the
                # Gumbel-softmax gradient backward
                hard = F.gumbel_softmax(probs.clamp_min(1e-12).log(),
                                        tau=self.gumbel_tau, hard=True)
                records['gate_weights'] = hard
                topk_idx = hard.detach().argmax(1, keepdim=True)
        records.update(gate_probs=probs, gate_topk=topk_idx)
        stats = dict(probs=probs.detach(), topk=topk_idx)
        labels = records.get('labels')
        if teachers is not None and teachers.dim() == 3 and \
                labels is not None:
            stats.update(labels=labels,
                         best=best_teacher(teachers, labels))
        self.last_routing = stats

    @torch.no_grad()
    def masknet_val_kl(self, inputs: Inputs,
                       data_samples) -> Tuple[torch.Tensor, torch.Tensor]:
        """The validation objective of every MaskNet (Eq. 10) on a batch:
        ``(kl_sum (N,), count)``, summed over the samples (or valid
        pixels); the caller averages over the whole set."""
        student = self.member_forward(self.target, inputs)
        labels = self.task.labels(data_samples, shape=student.shape[2:]) \
            if student.dim() > 2 else self.task.labels(data_samples)
        mask = self.task.valid_mask(labels)
        teachers = self.specialized_teacher_logits(inputs)
        kl_sum = torch.stack([
            kl_divergence(student, teachers[j], self.temperature,
                          self.scale_by_t2, reduction='none',
                          valid_mask=mask).sum()
            for j in range(self.num_teachers)])
        count = student.new_tensor(float(student.shape[0])) \
            if mask is None else mask.sum().to(student.dtype)
        return kl_sum, count

    def required_hooks(self) -> List[dict]:
        hooks = [dict(type='RoutingStatsHook')]
        if self.use_masknets:
            hooks.insert(0, dict(type='MaskNetSelectionHook'))
            if self.s2_cache is not None:
                hooks.append(dict(type='S2CacheHook'))
        return hooks
