"""MGDFR: distillation on the teacher's modality-general decisive features.

Xue et al., "The Modality Focusing Hypothesis: Towards Understanding
Crossmodal Knowledge Distillation", ICLR 2023 (Sec. 5, "Implications", and
its Algorithm 1; the authors' code, ``zihuixue/MFH``): the knowledge a
cross-modal student can take from a teacher is the modality-general
decisive part of the teacher's features. Declared here in two stages:

1. ``overlap``: the teacher and an auxiliary student are trained jointly
   (CE of each + MSE between their logits, the authors'
   ``train_network_for_overlap_tag``), so that what the two modalities
   share drives both;
2. at the start of ``kd`` (:class:`~mstkd.engine.hooks.MGDFRSaliencyHook`)
   the teacher's channels at ``feature`` are ranked by permutation
   saliency: channel ``c`` of the feature is permuted across the samples of
   a batch and the MSE between the permuted teacher's logits and the
   student's logits is averaged over the training set and
   ``num_permutations`` draws, then min-max normalised (the authors'
   ``cal_overlap_tag``). The top ``keep_ratio`` channels are the
   modality-general ones (``general_mask``); the salience and the mask are
   buffers (zeros before), saved in every checkpoint (a resumed run does
   not recompute them). The student is re-initialised (the authors and the MST
   release distil a fresh student), then trained by the declared ``kd``
   losses against ``'general_logits'``: the teacher's logits with every
   other channel replaced by its batch mean (the authors' ``'freeze'``).

Dense tasks (segmentation, e.g. the NYU-Depth-V2 FuseNet members): the
saliency MSE is the mean over the classes and the valid (non-void) pixels of
the logit maps (:func:`~mstkd.models.losses.utils.masked_mean`), batches
weighted by their valid pixels; a teacher whose later layers read tensors of
earlier ones besides ``feature`` (FuseNet's decoder unpools with the
encoder's pooling indices) runs the permuted copies from a repeated input
batch (``expand_at='input'``); ``reinit_student='init_weights'`` re-runs the
student's own initialisation (FuseNet: MSRA, then its VGG16 checkpoint).

Product: ``'general_logits'`` (``(B, K)`` or ``(B, K, *spatial)``, no
gradient).
"""
import math
from contextlib import contextmanager
from typing import Iterable, Optional

import torch
from mmengine.logging import print_log

from mstkd.registry import MODELS
from mstkd.utils.errors import UserInputError
from ..losses.utils import masked_mean
from ..task_modules.layer_paths import resolve_layer, split_layer_path
from ..task_modules.recorder import parse_record_key
from .configurable_distiller import ConfigurableDistiller


def _expand_permuted(x: torch.Tensor, channels, perms) -> torch.Tensor:
    """``(len(channels) * B, C, ...)``: block ``k`` is ``x`` with channel
    ``channels[k]`` permuted across the batch by ``perms[k]``."""
    ys = x.unsqueeze(0).repeat(len(channels), *([1] * x.dim()))
    for k, (c, perm) in enumerate(zip(channels, perms)):
        ys[k, :, c] = x[perm, c]
    return ys.flatten(0, 1)


def _permute_blocks(x: torch.Tensor, channels, perms) -> torch.Tensor:
    """``x`` of a repeated batch ``(len(channels) * B, C, ...)``: block ``k``
    with channel ``channels[k]`` permuted across its ``B`` samples by
    ``perms[k]`` (:func:`_expand_permuted` when the copies start at the
    input)."""
    blocks = x.view(len(channels), -1, *x.shape[1:])
    ys = blocks.clone()
    for k, (c, perm) in enumerate(zip(channels, perms)):
        ys[k, :, c] = blocks[k, perm, c]
    return ys.flatten(0, 1)


def _repeat_batch(inputs, times: int):
    """``times`` copies of a batch (a tensor or a dict of tensors) stacked
    along the batch dim."""
    if isinstance(inputs, torch.Tensor):
        return inputs.repeat(times, *([1] * (inputs.dim() - 1)))
    return {k: _repeat_batch(v, times) for k, v in inputs.items()}


def _freeze_channels(x: torch.Tensor, removed: torch.Tensor) -> torch.Tensor:
    """``x`` with the ``removed`` channels (bool over dim 1) set to their
    batch mean (the authors' ``my_freeze_new``)."""
    y = x.clone()
    y[:, removed] = x[:, removed].mean(0, keepdim=True)
    return y


@MODELS.register_module()
class MGDFRDistiller(ConfigurableDistiller):
    """Modality-general decisive feature ranking, then distillation.

    Args:
        teacher (str): The cross-modal teacher member.
        feature (str): Record key of the teacher's ranked feature, e.g.
            ``'audio:conv3'`` or ``'image:fc1'`` (``'member:layer@input'``
            ranks a layer's input). Channels are dim 1; the teacher's
            layers after it must treat samples independently (a unimodal
            member: the permuted copies run as one larger batch; see
            ``expand_at`` for one whose later layers read earlier
            tensors).
        keep_ratio (float): Fraction of channels kept as modality-general.
            Defaults to 0.25 (the authors and the release remove 75%).
        num_permutations (int): Permutation draws per channel and batch.
            Defaults to 10 (the release; the authors' RAVDESS script 1).
        saliency_stage (str): The stage at whose start the saliency is
            computed. Defaults to ``'kd'``.
        reinit_student (bool | str): Re-initialise the student after the
            ranking (the authors, the release). True: every submodule's
            ``reset_parameters`` (PyTorch's default initialisation);
            ``'init_weights'``: that, then the student's own
            ``init_weights()`` (its configured scheme, e.g. FuseNet's MSRA
            filler and VGG16 checkpoint: the start of its w/o-KD run);
            False: keep it. Defaults to True.
        max_saliency_batches (int, optional): Rank on the first N training
            batches only. Defaults to None (the whole training set).
        chunk_samples (int): Rows per permuted forward. Defaults to 2048.
            A forward ranks ``max(1, chunk_samples // B)`` channels.
        expand_at (str): Where the permuted copies of a batch start:
            ``'feature'`` (default: the teacher's layers up to ``feature``
            run once, the copies from there on) or ``'input'`` (the input
            batch is repeated, one copy per channel, and each copy's
            channel permuted at ``feature``: for teachers whose later
            layers also read earlier tensors of the same batch, e.g.
            FuseNet's unpooling indices). The same salience either way.
        num_channels (int, optional): Channels of ``feature``; by default
            read from its layer (``out_features`` / ``out_channels``).
        **kwargs: :class:`ConfigurableDistiller` arguments (``members``,
            ``target``, ``losses``, ..., ``micro_batch``). Micro-batching
            the stage that reads ``general_logits`` is approximate: the
            removed channels are frozen at the batch mean of each chunk.
    """

    products = ('general_logits', )
    batch_level_products = ('general_logits', )

    def __init__(self,
                 *args,
                 teacher: str,
                 feature: str,
                 keep_ratio: float = 0.25,
                 num_permutations: int = 10,
                 saliency_stage: str = 'kd',
                 reinit_student: bool = True,
                 max_saliency_batches: Optional[int] = None,
                 chunk_samples: int = 2048,
                 num_channels: Optional[int] = None,
                 expand_at: str = 'feature',
                 **kwargs):
        super().__init__(*args, **kwargs)
        if teacher not in self.members or teacher == self.target:
            raise UserInputError(
                f'MGDFR: teacher "{teacher}" must be a member other than the '
                f'student "{self.target}"; members: {list(self.members)}.')
        parsed = parse_record_key(feature)
        if parsed is None or parsed[0] != teacher or not parsed[1]:
            raise UserInputError(
                f'MGDFR: feature must be a layer of the teacher, '
                f'"{teacher}:<layer path>"; got "{feature}".')
        self._check_record(feature, 'MGDFRDistiller.feature')
        if saliency_stage not in self.stages:
            raise UserInputError(
                f'MGDFR: saliency_stage "{saliency_stage}" is not a stage; '
                f'stages: {self.stage_names}.')
        if expand_at not in ('feature', 'input'):
            raise UserInputError(
                f"MGDFR: expand_at must be 'feature' or 'input' (the "
                f"teacher's later layers read earlier tensors, e.g. "
                f"FuseNet's unpooling indices), got {expand_at!r}.")
        if reinit_student not in (True, False, 'init_weights'):
            raise UserInputError(
                f"MGDFR: reinit_student must be True, False or "
                f"'init_weights', got {reinit_student!r}.")
        if reinit_student == 'init_weights' and not callable(
                getattr(self.student, 'init_weights', None)):
            raise UserInputError(
                f"MGDFR: reinit_student='init_weights' needs a student "
                f"with init_weights(); {type(self.student).__name__} has "
                'none: use reinit_student=True.')
        if not 0 < keep_ratio <= 1:
            raise UserInputError(f'MGDFR: keep_ratio must be in (0, 1], got '
                                 f'{keep_ratio}.')
        self.teacher = teacher
        self.feature = feature
        self.keep_ratio = keep_ratio
        self.num_permutations = num_permutations
        self.saliency_stage = saliency_stage
        self.reinit_student = reinit_student
        self.max_saliency_batches = max_saliency_batches
        self.chunk_samples = chunk_samples
        self.expand_at = expand_at
        width = num_channels or self._feature_width()
        self.register_buffer('salience', torch.zeros(width))
        self.register_buffer('general_mask',
                             torch.zeros(width, dtype=torch.bool))
        self.register_buffer('saliency_done', torch.tensor(False))

    def _feature_width(self) -> int:
        """The channels of ``feature`` from its layer (``out_features`` /
        ``out_channels``, or ``in_*`` for an ``@input`` path)."""
        path, on_input = split_layer_path(parse_record_key(self.feature)[1])
        module = resolve_layer(self.members[self.teacher], path)
        names = ('in_features', 'in_channels') if on_input else \
            ('out_features', 'out_channels')
        for name in names:
            if isinstance(getattr(module, name, None), int):
                return getattr(module, name)
        raise UserInputError(
            f'MGDFR: cannot tell the channels of {self.feature} from its '
            f'layer ({type(module).__name__}); set num_channels.')

    # ------------------------------------------------------------------
    @contextmanager
    def _on_feature(self, change):
        """Replace the teacher's ``feature`` by ``change(feature)`` during
        the forwards inside the context."""
        path, on_input = split_layer_path(parse_record_key(self.feature)[1])
        module = resolve_layer(self.members[self.teacher], path)
        if on_input:
            handle = module.register_forward_pre_hook(
                lambda m, args: (change(args[0]), *args[1:]))
        else:
            handle = module.register_forward_hook(
                lambda m, args, out: change(out))
        try:
            yield
        finally:
            handle.remove()

    def permuted_logits(self, inputs, channels, perms) -> torch.Tensor:
        """``(len(channels), B, K, ...)`` teacher logits, block ``k`` with
        channel ``channels[k]`` permuted across the batch by ``perms[k]``."""
        if self.expand_at == 'input':
            with self._on_feature(
                    lambda x: _permute_blocks(x, channels, perms)):
                out = self.member_forward(
                    self.teacher, _repeat_batch(inputs, len(channels)))
        else:
            try:
                with self._on_feature(
                        lambda x: _expand_permuted(x, channels, perms)):
                    out = self.member_forward(self.teacher, inputs)
            except RuntimeError as error:
                if len(channels) == 1:
                    raise
                raise UserInputError(
                    f'MGDFR: the teacher "{self.teacher}" failed on the '
                    f'permuted copies expanded at {self.feature} '
                    f'({len(channels)} x the batch): its later layers '
                    'probably read earlier tensors of the batch (e.g. '
                    "FuseNet's unpooling indices). Set expand_at='input' "
                    "(copies from the input batch). The error: "
                    f'{error}') from error
        return out.view(len(channels), -1, *out.shape[1:])

    def _valid_mask(self, data: dict, logits: torch.Tensor):
        """Dense logits: the task's valid pixels of the batch (label maps
        brought to the logits' size); None for classification."""
        samples = data.get('data_samples') if isinstance(data, dict) \
            else None
        if logits.dim() <= 2 or samples is None:
            return None
        return self.task.valid_mask(
            self.task.labels(samples, shape=logits.shape[2:]))

    @torch.no_grad()
    def compute_saliency(self, batches: Iterable) -> torch.Tensor:
        """Rank the teacher's channels on ``batches`` (training batches as
        the dataloader yields them) and set ``salience``, ``general_mask``
        and ``saliency_done``; then re-initialise the student
        (``reinit_student``). Returns the salience."""
        was_training = self.training
        self.eval()
        total, seen, dense = None, 0, False
        for b, batch in enumerate(batches):
            if self.max_saliency_batches is not None and \
                    b >= self.max_saliency_batches:
                break
            data = self.data_preprocessor(batch, False)
            inputs = data['inputs']
            student = self.member_forward(self.target, inputs)
            size = student.shape[0]
            valid = self._valid_mask(data, student)
            # dense: a batch counts with its valid pixels
            weight = size if valid is None else float(valid.sum())
            dense = dense or valid is not None
            if total is None:
                width = []
                with self._on_feature(
                        lambda x: (width.append(x.shape[1]), x)[1]):
                    self.member_forward(self.teacher, inputs)
                if width[0] != len(self.salience):
                    raise UserInputError(
                        f'MGDFR: {self.feature} has {width[0]} channels, '
                        f'not {len(self.salience)}; set num_channels.')
                total = torch.zeros(width[0], dtype=torch.float64,
                                    device=student.device)
            per_chunk = max(1, self.chunk_samples // size)
            for _ in range(self.num_permutations):
                for start in range(0, len(total), per_chunk):
                    channels = list(range(start,
                                          min(start + per_chunk, len(total))))
                    perms = [torch.randperm(size, device=student.device)
                             for _ in channels]
                    out = self.permuted_logits(inputs, channels, perms)
                    if valid is None:
                        # nn.MSELoss (mean) of each permuted teacher vs
                        # student
                        dist = (out - student[None]).pow(2).flatten(1).mean(
                            1)
                    else:  # the same over the valid pixels only
                        dist = torch.stack([
                            masked_mean((o - student).pow(2), valid)
                            for o in out])
                    total[start:start + len(channels)] += \
                        dist.double() * weight
            seen += weight
        if total is None:
            raise UserInputError('MGDFR: no training batch to rank the '
                                 "teacher's channels on.")
        if not seen:
            raise UserInputError(
                'MGDFR: the ranking batches hold no valid (non-void) pixel; '
                "the teacher's channels cannot be ranked.")
        salience = total / (seen * self.num_permutations)
        span = salience.max() - salience.min()
        salience = (salience - salience.min()) / span if span > 0 else \
            torch.zeros_like(salience)
        keep = max(1, int(math.ceil(self.keep_ratio * len(salience) - 1e-9)))
        mask = torch.zeros(len(salience), dtype=torch.bool,
                           device=salience.device)
        # stable: ties keep the lower channel index
        order = torch.sort(-salience, stable=True).indices
        mask[order[:keep]] = True
        self.salience.copy_(salience)
        self.general_mask.copy_(mask)
        self.saliency_done.fill_(True)
        if self.reinit_student:
            for module in self.student.modules():
                if module is not self.student and \
                        hasattr(module, 'reset_parameters'):
                    module.reset_parameters()
            if self.reinit_student == 'init_weights':
                # an mmengine BaseModule skips init_weights once initialised
                if hasattr(self.student, 'is_init'):
                    self.student.is_init = False
                self.student.init_weights()
        self.train(was_training)
        print_log(
            f'MGDFR: ranked {len(salience)} channels of {self.feature} on '
            f'{seen:g} {"valid pixels" if dense else "samples"}'
            f' x {self.num_permutations} permutations; kept '
            f'{keep} as modality-general: {order[:keep].tolist()}'
            + ('; student re-initialised' if self.reinit_student else ''),
            logger='current')
        return self.salience

    def add_products(self, records: dict, keys, inputs, data_samples) -> None:
        if 'general_logits' not in keys:
            return
        if not bool(self.saliency_done):
            raise RuntimeError(
                "MGDFR: 'general_logits' needs the channel ranking, computed "
                f'at the start of stage "{self.saliency_stage}" by '
                'MGDFRSaliencyHook (or call compute_saliency(batches)).')
        removed = ~self.general_mask
        with torch.no_grad(), self._on_feature(
                lambda x: _freeze_channels(x, removed)):
            records['general_logits'] = self.member_forward(self.teacher,
                                                            inputs)

    def required_hooks(self):
        return super().required_hooks() + [dict(type='MGDFRSaliencyHook')]
