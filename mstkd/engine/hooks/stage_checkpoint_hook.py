"""A CheckpointHook aware of training stages, whose checkpoints survive a
kill and resume exactly."""
import os
import os.path as osp
import random
from contextlib import contextmanager
from typing import List, Optional, Sequence

import numpy as np
import torch
from mmengine.dist import is_main_process
from mmengine.hooks import CheckpointHook

from mstkd.registry import HOOKS
from ..loops.multi_stage_loop import locate_epoch
from mstkd.utils.errors import UserInputError
from ..utils import current_stage


def validates_after(runner, epoch: int) -> bool:
    """Whether the train loop validates after its epoch ``epoch`` (1-based:
    the number of finished epochs)."""
    loop = runner.train_loop
    if runner._val_loop is None:
        return False
    if hasattr(loop, 'validates_after'):
        return loop.validates_after(epoch)
    return epoch >= loop.val_begin and (epoch % loop.val_interval == 0
                                        or epoch == loop.max_epochs)


class _DeferredRemoval:
    """A file backend whose ``remove`` only records the path (the
    previous best checkpoint is removed after the new one exists)."""

    def __init__(self, backend):
        self._backend = backend
        self.removed: List[str] = []

    def remove(self, path):
        self.removed.append(path)

    def __getattr__(self, name):
        return getattr(self._backend, name)


@HOOKS.register_module()
class StageCheckpointHook(CheckpointHook):
    """mmengine's CheckpointHook, made safe for long multi-stage runs.

    - **Best model in some stages only.** In MST-Distill, for example, the
      student is selected by validation loss in S3 (the distillation
      stage); the S1/S2 validations are reported but must not compete for
      "best student". ``best_stages=None`` keeps the best of every epoch.
    - **A kill never loses the resume point.** Every checkpoint (per-epoch
      and best) is written to a temporary name and renamed; the previous
      one is removed only after the new one exists, and ``last_checkpoint``
      is rewritten (atomically) last.
    - **Exact resume.** An epoch that is validated is checkpointed after
      its validation, so the checkpoint holds what validation changed
      (e.g. the best MaskNets of
      :class:`~mstkd.engine.hooks.MaskNetSelectionHook`, the best metric so
      far); the torch / numpy / Python RNG states travel in the checkpoint
      (``checkpoint['rng_state']``) and are restored on resume.
    - **Stage plan checked on resume.** The checkpoint records the stage
      lengths (``meta['stage_epochs']``); a resumed config that puts the
      checkpoint's last epoch in another stage (or at another position in
      it) is refused, naming both.

    Args:
        best_stages (Sequence[str], optional): Stages
            (``runner.train_loop.stage``) in which ``save_best`` applies;
            None: all. Defaults to ('s3', ).
        **kwargs: :class:`mmengine.hooks.CheckpointHook` arguments.
    """

    def __init__(self, best_stages: Optional[Sequence[str]] = ('s3', ),
                 **kwargs):
        super().__init__(**kwargs)
        self.best_stages = None if best_stages is None else \
            tuple(best_stages)
        self._pending = None
        self._saved_step = None

    # -- when -------------------------------------------------------------
    def after_train_epoch(self, runner) -> None:
        if not self.by_epoch:
            return super().after_train_epoch(runner)
        epoch = runner.epoch + 1  # finished epochs
        if validates_after(runner, epoch):
            # save after this epoch's validation (after_val_epoch)
            self._pending = (epoch, runner.iter)
            save = self.every_n_epochs(runner, self.interval,
                                       self.save_begin) or (
                self.save_last and self.is_last_train_epoch(runner))
            if not save:
                self._pending = None
            return
        super().after_train_epoch(runner)

    def after_val_epoch(self, runner, metrics):
        stage = current_stage(runner)
        if self.best_stages is None or stage is None or \
                stage in self.best_stages:
            super().after_val_epoch(runner, metrics)
        if self._pending is not None:
            epoch, it = self._pending
            self._pending = None
            if self._saved_step == epoch:
                return  # a new best re-saved it already (mmengine)
            runner.logger.info(f'Saving checkpoint at {epoch} epochs')
            self._save_checkpoint_with_step(
                runner, epoch, dict(epoch=epoch, iter=it))

    # -- how ----------------------------------------------------------------
    @contextmanager
    def _atomic_saves(self, runner):
        """``runner.save_checkpoint`` writes a temporary file, then renames
        it over the target."""
        if getattr(runner, '_mstkd_atomic_saves', False):
            yield  # already inside (best -> re-save of the last one)
            return
        save = runner.save_checkpoint

        def atomic(out_dir, filename, *args, **kwargs):
            tmp = f'.{filename}.tmp'
            save(out_dir, tmp, *args, **kwargs)
            if is_main_process():
                os.replace(osp.join(out_dir, tmp), osp.join(out_dir,
                                                            filename))

        runner.save_checkpoint = atomic
        runner._mstkd_atomic_saves = True
        try:
            yield
        finally:
            del runner.save_checkpoint  # the bound method again
            runner._mstkd_atomic_saves = False

    @staticmethod
    def _write_last_checkpoint(runner, path: str) -> None:
        if not is_main_process():
            return
        target = osp.join(runner.work_dir, 'last_checkpoint')
        with open(target + '.tmp', 'w') as f:
            f.write(path)
        os.replace(target + '.tmp', target)

    def _save_checkpoint_with_step(self, runner, step, meta):
        """The new checkpoint first (atomically), then ``last_checkpoint``,
        then the removal of checkpoints beyond ``max_keep_ckpts``."""
        ckpt_filename = self.filename_tmpl.format(step)
        self.last_ckpt = self.file_backend.join_path(self.out_dir,
                                                     ckpt_filename)
        runner.message_hub.update_info('last_ckpt', self.last_ckpt)
        stale = []
        if self.max_keep_ckpts > 0 and not (
                self.keep_ckpt_ids and self.keep_ckpt_ids[-1] == step):
            # (keep_ckpt_ids is a deque with maxlen=max_keep_ckpts)
            while len(self.keep_ckpt_ids) >= self.max_keep_ckpts:
                stale.append(self.keep_ckpt_ids.popleft())
            self.keep_ckpt_ids.append(step)
            runner.message_hub.update_info('keep_ckpt_ids',
                                           list(self.keep_ckpt_ids))
        with self._atomic_saves(runner):
            runner.save_checkpoint(
                self.out_dir, ckpt_filename, self.file_client_args,
                save_optimizer=self.save_optimizer,
                save_param_scheduler=self.save_param_scheduler, meta=meta,
                by_epoch=self.by_epoch, backend_args=self.backend_args,
                **self.args)
        self._saved_step = step
        if not is_main_process():
            return
        self._write_last_checkpoint(runner, self.last_ckpt)
        for old in stale:
            path = self.file_backend.join_path(
                self.out_dir, self.filename_tmpl.format(old))
            if path != self.last_ckpt and self.file_backend.isfile(path):
                self.file_backend.remove(path)

    def _save_best_checkpoint(self, runner, metrics) -> None:
        backend = self.file_backend
        self.file_backend = deferred = _DeferredRemoval(backend)
        try:
            with self._atomic_saves(runner):
                super()._save_best_checkpoint(runner, metrics)
        finally:
            self.file_backend = backend
        if is_main_process():
            kept = set(getattr(self, 'best_ckpt_path_dict', {}).values())
            kept |= {getattr(self, 'best_ckpt_path', None), self.last_ckpt}
            for path in deferred.removed:
                if path not in kept and backend.isfile(path):
                    backend.remove(path)

    # -- what ---------------------------------------------------------------
    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        # numpy's key as a tensor: weights-only loading takes tensors,
        # tuples and numbers, not numpy arrays of uint32
        name, keys, pos, has_gauss, gauss = np.random.get_state()
        checkpoint['rng_state'] = dict(
            torch=torch.get_rng_state(),
            numpy=(name, torch.from_numpy(keys.astype(np.int64)), int(pos),
                   int(has_gauss), float(gauss)),
            python=random.getstate())
        stage_epochs = getattr(runner.train_loop, 'stage_epochs', None) \
            if runner._train_loop is not None and \
            not isinstance(runner._train_loop, dict) else None
        if stage_epochs is not None:
            checkpoint.setdefault('meta', {})['stage_epochs'] = dict(
                stage_epochs)

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        if not runner._resume:  # load_from for weights: no state
            return
        rng = checkpoint.get('rng_state')
        if rng is not None:
            torch.set_rng_state(rng['torch'])
            name, keys, pos, has_gauss, gauss = rng['numpy']
            np.random.set_state((name, keys.numpy().astype(np.uint32), pos,
                                 has_gauss, gauss))
            random.setstate(rng['python'])
        self._check_stage_plan(runner, checkpoint)

    @staticmethod
    def _check_stage_plan(runner, checkpoint: dict) -> None:
        meta = checkpoint.get('meta', {})
        saved, epoch = meta.get('stage_epochs'), meta.get('epoch', 0)
        loop = runner.train_loop
        if not saved or not epoch or not hasattr(loop, 'stage_at'):
            return

        def where(plan, last):
            """(stage, position in it, its length) of epoch ``last``."""
            found = locate_epoch(plan, last)
            if found is None:
                return None, None, None
            return found[0], last - found[1], plan[found[0]]

        old = where(saved, epoch - 1)
        new = where(loop.stage_epochs, epoch - 1)
        if old[:2] != new[:2]:
            raise UserInputError(
                f'The checkpoint ends epoch {epoch} in stage {old[0]} '
                f'(epoch {old[1] + 1} of its {old[2]}; stages then: '
                f'{dict(saved)}), but this config puts epoch {epoch} '
                + (f'in stage {new[0]} (epoch {new[1] + 1} of {new[2]})'
                   if new[0] else 'past its last stage') +
                f' (stages now: {dict(loop.stage_epochs)}). Keep the '
                'stage lengths up to the checkpoint, or train in a new '
                'work dir.')
