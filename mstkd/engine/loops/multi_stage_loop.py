"""Training in declared stages (torchdistill-style), on mmengine's Runner."""
import os
import os.path as osp
from collections import OrderedDict
from typing import Dict, List, Optional, Tuple, Union

import torch
from mmengine.dist import (all_gather, broadcast, is_distributed,
                           is_main_process)
from mmengine.optim import OptimWrapperDict
from mmengine.runner import EpochBasedTrainLoop

from mstkd.models.wrappers import unwrap_model
from mstkd.registry import HOOKS, LOOPS
from mstkd.utils.errors import RunFailedError, UserInputError


def parse_stage_epochs(stages: Dict[str, Union[int, dict]]
                       ) -> 'OrderedDict[str, int]':
    """``dict(s1=15, s2=dict(epochs=2))`` -> ordered name -> epochs."""
    if not stages:
        raise UserInputError('train_cfg.stages needs at least one stage, '
                             'e.g. stages=dict(hint=5, kd=15).')
    parsed = OrderedDict()
    for name, spec in stages.items():
        if isinstance(spec, dict):
            unknown = set(spec) - {'epochs'}
            if unknown or 'epochs' not in spec:
                raise UserInputError(
                    f'train_cfg.stages.{name} is the number of epochs or '
                    f'dict(epochs=N); got {spec}.')
            spec = spec['epochs']
        if not isinstance(spec, int) or isinstance(spec, bool) or spec < 0:
            raise UserInputError(f'train_cfg.stages.{name}: epochs must be '
                                 f'an integer >= 0, got {spec!r}.')
        parsed[name] = spec
    return parsed


#: The file (in the work dir) with the initial weights of the modules that a
#: later stage trains, written once when a run starts (see
#: :meth:`MultiStageTrainLoop.external_parts`); its key in
#: :attr:`MultiStageTrainLoop.stage_end_files`.
INIT_FILE = 'init.pth'
INIT = '_init'


def locate_epoch(stage_epochs: Dict[str, int],
                 epoch: int) -> Optional[Tuple[str, int]]:
    """``(stage, first epoch of that stage)`` of a global (0-based) epoch
    under the plan ``stage_epochs`` (run order), or None past its end."""
    start = 0
    for stage, num in stage_epochs.items():
        if epoch < start + num:
            return stage, start
        start += num
    return None


@LOOPS.register_module()
class MultiStageTrainLoop(EpochBasedTrainLoop):
    """Stages of any names and count, on one global epoch/iteration counter.

    The model declares what each stage trains (``model.stages``); this loop
    declares how long: ``stages=dict(hint=5, kd=15)`` (or
    ``dict(hint=dict(epochs=5), ...)``), in run order. Epochs ``[0, e1)``
    are the first stage, ``[e1, e1 + e2)`` the second and so on, so a
    checkpoint's epoch alone says where ``--resume`` continues. A stage with
    0 epochs is skipped.

    At build time the loop lets the model build its shape-dependent parts
    (connectors, MaskNets) from one example batch, before the optimizers
    are built and a checkpoint is resumed, and registers the hooks the
    model requires (``model.required_hooks()``) when the config does not
    list them. At each stage entry it sets the model's stage (freezing,
    eval mode of the frozen parts), re-wraps the model in DDP for the new
    trainable set and calls the ``before_train_stage`` hook point; each
    iteration steps the stage's own optimizer wrapper
    (``optim_wrapper[stage]``, see
    :class:`~mstkd.engine.optimizers.StageOptimWrapperConstructor`); at each
    stage end it calls ``after_train_stage``, drops the finished stage's
    optimizer state (nothing steps that optimizer again; also done for every
    earlier stage when a resumed run enters a later one) and writes
    ``{stage}_end.pth`` atomically (a kill never leaves a truncated one).
    That file holds no optimizer state of its own stage: resuming from it
    starts the next stage. The ``after_save_stage_checkpoint`` hook point
    follows (``stage``, ``path``): with slim checkpoints the stage's last
    ``epoch_N.pth`` is then a hard link to that file.

    Slim checkpoints (:class:`~mstkd.engine.hooks.StageCheckpointHook`,
    ``slim=True``) ask the loop which weights the rest of the run no longer
    trains and which stage-end file already holds them
    (:meth:`external_parts`).

    Args:
        runner (Runner): The runner.
        dataloader (DataLoader | dict): The training dataloader.
        stages (dict): Stage name -> epochs.
        val_begin (int): First epoch to validate. Defaults to 1.
        val_interval (int): Validation interval; the last epoch of every
            stage is validated too. Defaults to 1.
    """

    def __init__(self, runner, dataloader, stages: Dict[str, Union[int,
                                                                   dict]],
                 val_begin: int = 1, val_interval: int = 1):
        self.stage_epochs = parse_stage_epochs(stages)
        super().__init__(runner, dataloader,
                         max_epochs=sum(self.stage_epochs.values()),
                         val_begin=val_begin, val_interval=val_interval)
        self.stage = None
        #: stage -> its ``{stage}_end.pth`` known to hold this run's weights
        #: at that stage end (written by this process, or the resumed
        #: checkpoint itself / the files it refers to).
        self.stage_end_files: Dict[str, str] = {}
        model = self.model
        declared = list(getattr(model, 'stages', {}))
        unknown = [s for s in self.stage_epochs if s not in declared]
        if not declared or unknown:
            raise UserInputError(
                f'train_cfg.stages names {unknown or list(self.stage_epochs)}'
                f', which the model ({type(model).__name__}) does not '
                f'declare; its stages: {declared}.')
        self._register_required_hooks(model)
        active = [s for s, n in self.stage_epochs.items() if n > 0]
        # Before the optimizers are built and a checkpoint is resumed.
        model.setup(self._example_inputs(), active)
        idle = [s for s in active if not any(
            True for m in model.stage_modules(s) for _ in m.parameters())]
        if idle:
            raise UserInputError(
                f'stage(s) {idle} have epochs but train no parameter (e.g. '
                "MST's s2 with use_masknets=False): set their epochs to 0.")

    # ------------------------------------------------------------------
    @property
    def model(self):
        return unwrap_model(self.runner.model)

    def _register_required_hooks(self, model) -> None:
        # the stage-aware eta, and what the algorithm needs
        for cfg in [dict(type='StageETAHook')] + model.required_hooks():
            hook_cls = HOOKS.get(cfg['type'])
            if not any(isinstance(h, hook_cls) for h in self.runner.hooks):
                self.runner.register_hook(dict(cfg))

    def _example_inputs(self):
        """Two collated training samples through the data preprocessor."""
        dataset = self.dataloader.dataset
        batch = self.dataloader.collate_fn(
            [dataset[i] for i in range(min(2, len(dataset)))])
        return self.model.data_preprocessor(batch, False)['inputs']

    def trained_prefixes(self, stage: str) -> List[str]:
        """State-dict prefixes (``'members.'``, ``'masknets.'``) of the
        modules ``stage`` trains (``''``: the whole model)."""
        model = self.model
        names = {id(m): n for n, m in model.named_modules()}
        return sorted({f'{names[id(m)]}.' if names[id(m)] else ''
                       for m in model.stage_modules(stage)
                       if id(m) in names})

    def external_parts(self, epoch: int, keys) -> Dict[str, List[str]]:
        """``{file: [state-dict prefixes]}``: the weights that a checkpoint
        after ``epoch`` finished epochs need not hold again.

        - A key that no stage from the one of epoch ``epoch`` on (the
          stages a resume from this checkpoint runs) trains, and whose last
          training stage has a ``{stage}_end.pth`` in
          :attr:`stage_end_files`: frozen since, the weights are that
          file's.
        - A key that a later stage trains and no stage has trained yet
          (MST-Distill's MaskNets in S1, its GateNet in S1 and S2): still
          its initial value, held by :data:`INIT_FILE` when this run wrote
          it (:meth:`save_initial_state`).

        Keys no stage trains are kept (nothing says that they did not
        change since some file was written).
        """
        from mstkd.utils.checkpoint import group_prefixes, key_in
        active = [s for s, n in self.stage_epochs.items() if n > 0]
        found = locate_epoch(self.stage_epochs, epoch)
        later = active[active.index(found[0]):] if found else []
        needed = [p for s in later for p in self.trained_prefixes(s)]
        done = [(s, self.trained_prefixes(s)) for s in active
                if s not in later]
        # stages with at least one finished epoch
        started = [p for s, prefixes in done for p in prefixes]
        if found and epoch > found[1]:
            started += self.trained_prefixes(found[0])
        assignment = {}
        for key in keys:
            holder = None
            if not key_in(key, needed):
                for stage, prefixes in done:  # run order: the last wins
                    if key_in(key, prefixes):
                        holder = stage
            elif not key_in(key, started):
                holder = INIT
            assignment[key] = self.stage_end_files.get(holder)
        return group_prefixes(assignment)

    def initial_prefixes(self) -> List[str]:
        """State-dict prefixes of the modules the first stage does not
        train and a later one does (their initial weights go to
        :data:`INIT_FILE`)."""
        from mstkd.utils.checkpoint import key_in
        active = [s for s, n in self.stage_epochs.items() if n > 0]
        if len(active) < 2:
            return []
        first = self.trained_prefixes(active[0])
        return sorted({p for s in active[1:] for p in self.trained_prefixes(s)
                       if p and not key_in(p, first)})

    def save_initial_state(self) -> Optional[str]:
        """Write :data:`INIT_FILE` (weights only, atomically) when a run
        starts with slim checkpoints: the modules that only later stages
        train, so that the checkpoints written before those stages need not
        hold them (MST-Distill: every S1 checkpoint would otherwise carry
        the untrained MaskNets, most of its size with full projectors)."""
        hook = next((h for h in self.runner.hooks
                     if getattr(h, 'slim', False) and
                     hasattr(h, 'best_stages')), None)
        prefixes = self.initial_prefixes()
        if hook is None or not prefixes:
            return None
        from mstkd.utils.checkpoint import key_in
        state = {k: v.detach().cpu().clone()
                 for k, v in self.model.state_dict().items()
                 if key_in(k, prefixes)}
        if not state:
            return None
        path = osp.join(self.runner.work_dir, INIT_FILE)
        if is_main_process():
            tmp = osp.join(self.runner.work_dir, f'.{INIT_FILE}.tmp')
            torch.save(dict(meta=dict(kind='initial weights',
                                      prefixes=prefixes),
                            state_dict=state), tmp)
            os.replace(tmp, path)
            self.runner.logger.info(
                f'saved {INIT_FILE} ({osp.getsize(path) / 2**20:.1f} MiB: '
                f'the initial {", ".join(p.rstrip(".") for p in prefixes)}'
                ', held once for the checkpoints before their stage)')
        self.stage_end_files[INIT] = path
        return path

    def finished_stages(self, epoch: int) -> List[str]:
        """The stages that are over after ``epoch`` finished epochs."""
        found = locate_epoch(self.stage_epochs, epoch)
        stages = list(self.stage_epochs)
        return stages[:stages.index(found[0])] if found else stages

    def _drop_optimizer_state(self, stages) -> None:
        """Forget the optimizer state (Adam moments, ...) of finished
        stages: their parameters do not train again."""
        optim = self.runner.optim_wrapper
        if not isinstance(optim, OptimWrapperDict):
            return
        for stage in stages:
            if stage in optim:
                optim[stage].optimizer.state.clear()

    def stage_at(self, epoch: int) -> Tuple[str, int]:
        """``(stage, first epoch of that stage)`` of a global epoch."""
        found = locate_epoch(self.stage_epochs, epoch)
        if found is None:
            raise ValueError(f'epoch {epoch} is past the last stage')
        return found

    def validates_after(self, epoch: int) -> bool:
        """Whether the loop validates after ``epoch`` finished epochs: every
        ``val_interval`` epochs from ``val_begin``, and at every stage end
        (checkpoint hooks save after that validation)."""
        if self.runner._val_loop is None or epoch < self.val_begin:
            return False
        stage, start = self.stage_at(epoch - 1)
        return epoch % self.val_interval == 0 or \
            epoch == start + self.stage_epochs[stage]

    # ------------------------------------------------------------------
    def run(self) -> torch.nn.Module:
        self.runner.call_hook('before_train')
        if self._epoch == 0 and self._iter == 0:
            self.save_initial_state()
        while self._epoch < self._max_epochs and not self.stop_training:
            stage, start = self.stage_at(self._epoch)
            if stage != self.stage:
                self._enter_stage(stage, self._epoch - start)
            self.model.set_epoch(self._epoch - start)
            self.run_epoch()
            end = start + self.stage_epochs[stage]
            if self.validates_after(self._epoch):
                self.runner.val_loop.run()
            if self._epoch == end:
                self._finish_stage(stage)
        self.runner.call_hook('after_train')
        return self.runner.model

    def run_iter(self, idx, data_batch) -> None:
        self.runner.call_hook(
            'before_train_iter', batch_idx=idx, data_batch=data_batch)
        optim_wrapper = self.runner.optim_wrapper
        if isinstance(optim_wrapper, OptimWrapperDict):
            optim_wrapper = optim_wrapper[self.stage]
        outputs = self.runner.model.train_step(
            data_batch, optim_wrapper=optim_wrapper)
        self.runner.call_hook(
            'after_train_iter', batch_idx=idx, data_batch=data_batch,
            outputs=outputs)
        self._iter += 1

    # ------------------------------------------------------------------
    def _enter_stage(self, stage: str, stage_epoch: int) -> None:
        model = self.model
        stages = list(self.stage_epochs)
        self._drop_optimizer_state(stages[:stages.index(stage)])
        model.set_stage(stage, stage_epoch)
        if is_distributed():
            # DDP registers the parameters that require grad when it is
            # built: re-wrap for the new trainable set.
            self.runner.model = self.runner.wrap_model(
                self.runner.cfg.get('model_wrapper_cfg'), model)
        self.stage = stage
        # Loss terms of the previous stage would linger in the log lines.
        scalars = self.runner.message_hub.log_scalars
        for key in [k for k in scalars if k.startswith('train/loss_')]:
            scalars.pop(key)
        trainable = sum(p.numel() for p in model.parameters()
                        if p.requires_grad)
        self.runner.logger.info(
            f'Entering {model.stages[stage]["title"]} at epoch '
            f'{self._epoch + 1} ({self.stage_epochs[stage]} epochs, '
            f'{trainable:,} trainable parameters)')
        self.runner.call_hook('before_train_stage', stage=stage)

    def _finish_stage(self, stage: str) -> None:
        self.runner.call_hook('after_train_stage', stage=stage)
        if is_distributed():
            self._sync_buffers()
            self._check_ranks_agree(stage)
        # resuming from {stage}_end.pth starts the next stage: the state of
        # this stage's optimizer is not needed any more
        self._drop_optimizer_state([stage])
        self._save_stage_checkpoint(stage)

    def _sync_buffers(self) -> None:
        """Rank 0's buffers (BatchNorm running statistics) on every rank.

        mmengine's DDP wrapper does not broadcast buffers, so each rank's
        running statistics follow its own shard of the data; a member
        frozen in a later stage would then run with other statistics on
        every rank (and differ from the checkpoint, which holds rank 0's).
        """
        for buf in self.model.buffers():
            broadcast(buf, src=0)

    def _check_ranks_agree(self, stage: str) -> None:
        """Every rank holds the same weights at a stage end (members,
        MaskNets, gate: the whole state dict, buffers included), checked by
        a fingerprint (sum and sum of squares of every floating tensor,
        float64)."""
        state = self.model.state_dict()
        names = sorted(k for k, v in state.items() if v.is_floating_point())
        local = torch.stack([
            torch.stack([state[k].double().sum(), state[k].double().pow(
                2).sum()]) for k in names]).flatten() if names else \
            torch.zeros(2, dtype=torch.float64)
        gathered = all_gather(local)
        spread = max(float((g - gathered[0]).abs().max()) for g in gathered)
        if spread > 0:
            bad = [names[int(i) // 2] for i in torch.nonzero(
                (torch.stack(gathered) - gathered[0]).abs().amax(0) > 0
            ).flatten()[:6]]
            raise RunFailedError(
                f'{stage}: the {len(gathered)} ranks hold different weights '
                f'at the stage end (largest difference {spread:.3g}; e.g. '
                f'{sorted(set(bad))}).')
        self.runner.logger.info(
            f'{stage}: weights identical on all {len(gathered)} ranks '
            f'({len(names)} tensors).')

    def _save_stage_checkpoint(self, stage: str) -> None:
        """``{stage}_end.pth``, written to a temporary name and renamed, so
        a kill never leaves a truncated stage checkpoint."""
        work_dir = self.runner.work_dir
        name = f'{stage}_end.pth'
        tmp = f'.{name}.tmp'
        self.runner.save_checkpoint(
            work_dir, tmp, meta=dict(epoch=self._epoch, iter=self._iter,
                                     stage=stage))
        path = osp.join(work_dir, name)
        if is_main_process():
            os.replace(osp.join(work_dir, tmp), path)
            title = self.model.stages[stage]['title']
            self.runner.logger.info(
                f'saved {name} ({osp.getsize(path) / 2**20:.1f} MiB)')
            self.runner.logger.info(f'{title} finished: {path}')
        self.stage_end_files[stage] = path
        self.runner.call_hook('after_save_stage_checkpoint', stage=stage,
                              path=path)
