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

from mstkd.models.wrappers import unwrap_model
from mstkd.registry import HOOKS
from ..loops.multi_stage_loop import INIT, INIT_FILE, locate_epoch
from mstkd.utils.checkpoint import (EXTERNAL_STATE, PARTIAL_STATE,
                                    fill_external_state, group_prefixes,
                                    key_in, link_or_copy, needed_by,
                                    state_checksum)
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
    - **Slim checkpoints** (``slim=True``, the default), what resume needs
      and nothing twice (every save logs its size, ``saved epoch_3.pth
      (12.3 MiB)``):

      - *Epoch and stage-end checkpoints* hold no optimizer state of
        finished stages (nothing steps those optimizers again; the
        multi-stage loop also drops it from memory), and do not hold
        again the weights that the rest of the run does not train and that
        the ``{stage}_end.pth`` of their last training stage (written by
        this run, in the same work dir) holds: in MST-Distill's S3 the
        MaskNets (in ``s2_end.pth``) and the teachers (in ``s1_end.pth``);
        nor the weights that only a later stage trains, still at their
        initial values, which the loop writes once to ``init.pth`` when a
        run starts (MST's MaskNets in every S1 checkpoint, its GateNet
        before S3); also the copies of the selected MaskNets
        (``checkpoint['masknet_selection']``) then, which are those
        weights. ``meta['external_state']`` records which file (relative
        to the checkpoint's folder) holds which state-dict prefixes, with
        a checksum; every load through the Runner (resume, ``load_from``,
        ``tools/test.py``) and :mod:`mstkd.apis` fills them back from
        there, and names the file in a one-line error when it is gone or
        was overwritten. See
        :meth:`~mstkd.engine.loops.MultiStageTrainLoop.external_parts`.
      - *Best checkpoints* (``best_CE_*``, ``best_OA_*``) hold the student
        and what the best model's stage trains (MST-Distill's S3: the
        GateNet), no optimizer state, RNG state or MaskNet copies
        (``meta['partial_state']`` lists what was left out). They test with
        ``tools/test.py CONFIG best_*.pth`` and export / run with
        :mod:`mstkd.apis`; ``--resume`` from one is refused (resume from an
        ``epoch_*.pth`` or ``{stage}_end.pth``). A member run (no
        distiller) keeps its whole model.

      - *A stage's last epoch* has no checkpoint of its own: its
        ``epoch_N.pth`` is a hard link to the ``{stage}_end.pth`` that the
        multi-stage loop writes right after (a copy where hard links are
        not supported), made once that file exists; resuming from it
        starts the next stage, as from the stage-end file. A kill before
        the link leaves ``last_checkpoint`` at the epoch before, which
        resume replays.

      ``slim=False`` (``default_hooks.checkpoint.slim=False``) writes
      every checkpoint whole, as mmengine does (only the optimizer state
      the loop dropped is missing).

    Args:
        best_stages (Sequence[str], optional): Stages
            (``runner.train_loop.stage``) in which ``save_best`` applies;
            None: all. Defaults to ('s3', ).
        slim (bool): Slim checkpoints (above). Defaults to True.
        **kwargs: :class:`mmengine.hooks.CheckpointHook` arguments.
    """

    def __init__(self, best_stages: Optional[Sequence[str]] = ('s3', ),
                 slim: bool = True, **kwargs):
        super().__init__(**kwargs)
        self.best_stages = None if best_stages is None else \
            tuple(best_stages)
        self.slim = bool(slim)
        self._pending = None
        self._saved_step = None
        self._saving_best = False
        #: the epoch checkpoint that will be a hard link to the stage-end
        #: file the loop writes next: dict(step=..., stale=steps to remove)
        self._stage_end_link = None

    def before_run(self, runner) -> None:
        super().before_run(runner)
        # the file being loaded, for the references of a slim checkpoint
        # (after_load_checkpoint receives the dict only)
        if getattr(runner, '_mstkd_load_wrapped', False):
            return
        load = runner.load_checkpoint

        def load_checkpoint(filename, *args, **kwargs):
            runner._mstkd_loading = filename
            try:
                return load(filename, *args, **kwargs)
            finally:
                runner._mstkd_loading = None

        runner.load_checkpoint = load_checkpoint
        runner._mstkd_load_wrapped = True

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
            runner.logger.info(
                f'Checkpoint of epoch {epoch}: the stage-end file, linked '
                'once written' if self._links_stage_end(runner, epoch) else
                f'Saving checkpoint at {epoch} epochs')
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
                path = osp.join(out_dir, filename)
                os.replace(osp.join(out_dir, tmp), path)
                runner.logger.info(
                    f'saved {filename} ({osp.getsize(path) / 2**20:.1f} '
                    'MiB)')

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

    def _links_stage_end(self, runner, step) -> bool:
        """Whether the checkpoint of epoch ``step`` is the ``{stage}_end.pth``
        that the multi-stage loop writes right after it: the epoch ends a
        stage, checkpoints are slim, and they go to the work dir. Then
        ``epoch_{step}.pth`` becomes a hard link to that file (one write
        instead of two of nearly the same content; resuming from either
        starts the next stage)."""
        loop = self._train_loop(runner)
        if not (self.slim and self.by_epoch and hasattr(loop, 'stage_at')
                and hasattr(loop, 'stage_end_files')):
            return False
        stage, start = loop.stage_at(step - 1)
        if step != start + loop.stage_epochs[stage]:
            return False
        return osp.isdir(self.out_dir) and osp.samefile(
            self.out_dir, runner.work_dir)

    def _register_step(self, runner, step) -> list:
        """``last_ckpt`` and the kept steps of mmengine's bookkeeping (in the
        message hub, so the checkpoint written next holds them) for the
        checkpoint of ``step``; returns the steps beyond
        ``max_keep_ckpts``."""
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
        return stale

    def _retire(self, runner, step, stale) -> None:
        """After the checkpoint of ``step`` exists: ``last_checkpoint``
        names it, then the checkpoints of the ``stale`` steps go."""
        self._saved_step = step
        if not is_main_process():
            return
        self._write_last_checkpoint(runner, self.last_ckpt)
        for old in stale:
            path = self.file_backend.join_path(
                self.out_dir, self.filename_tmpl.format(old))
            if path != self.last_ckpt and self.file_backend.isfile(path):
                self.file_backend.remove(path)

    def after_train_stage(self, runner, stage: str) -> None:
        """Before the loop writes ``{stage}_end.pth``: the bookkeeping of
        the epoch checkpoint that will link to it, so the file holds it."""
        link = self._stage_end_link
        if link is not None and link['stale'] is None:
            link['stale'] = self._register_step(runner, link['step'])

    def after_save_stage_checkpoint(self, runner, stage: str,
                                    path: str) -> None:
        """``epoch_N.pth`` of the stage's last epoch as a hard link to the
        ``{stage}_end.pth`` just written (a copy where the file system has
        no hard links), atomically; then ``last_checkpoint`` and the
        removal of older epoch checkpoints."""
        link, self._stage_end_link = self._stage_end_link, None
        if link is None:
            return
        step, stale = link['step'], link['stale']
        if stale is None:
            stale = self._register_step(runner, step)
        if is_main_process():
            filename = self.filename_tmpl.format(step)
            tmp = osp.join(self.out_dir, f'.{filename}.tmp')
            if osp.lexists(tmp):
                os.remove(tmp)
            how = (f'a hard link to {osp.basename(path)}, no bytes written'
                   if link_or_copy(path, tmp) else
                   f'a copy of {osp.basename(path)}')
            os.replace(tmp, self.last_ckpt)
            runner.logger.info(f'saved {filename} ({how})')
        self._retire(runner, step, stale)

    def _save_checkpoint_with_step(self, runner, step, meta):
        """The new checkpoint first (atomically), then ``last_checkpoint``,
        then the removal of checkpoints beyond ``max_keep_ckpts``. At a
        stage's last epoch the checkpoint is the stage-end file
        (:meth:`_links_stage_end`), linked once it exists."""
        if self._links_stage_end(runner, step):
            self._stage_end_link = dict(step=step, stale=None)
            return
        ckpt_filename = self.filename_tmpl.format(step)
        stale = self._register_step(runner, step)
        # (also mmengine's re-save after a new best: a whole checkpoint)
        best, self._saving_best = self._saving_best, False
        try:
            with self._atomic_saves(runner):
                runner.save_checkpoint(
                    self.out_dir, ckpt_filename, self.file_client_args,
                    save_optimizer=self.save_optimizer,
                    save_param_scheduler=self.save_param_scheduler,
                    meta=meta, by_epoch=self.by_epoch,
                    backend_args=self.backend_args, **self.args)
        finally:
            self._saving_best = best
        self._retire(runner, step, stale)

    def _save_best_checkpoint(self, runner, metrics) -> None:
        backend = self.file_backend
        self.file_backend = deferred = _DeferredRemoval(backend)
        self._saving_best = True
        try:
            with self._atomic_saves(runner):
                super()._save_best_checkpoint(runner, metrics)
        finally:
            self.file_backend = backend
            self._saving_best = False
        if is_main_process():
            kept = set(getattr(self, 'best_ckpt_path_dict', {}).values())
            kept |= {getattr(self, 'best_ckpt_path', None), self.last_ckpt}
            for path in deferred.removed:
                if path not in kept and backend.isfile(path):
                    backend.remove(path)

    # -- what ---------------------------------------------------------------
    @staticmethod
    def _train_loop(runner):
        loop = runner._train_loop
        return None if loop is None or isinstance(loop, dict) else loop

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        loop = self._train_loop(runner)
        if self.slim and self._saving_best:
            self._keep_student_only(runner, loop, checkpoint)
            return
        # numpy's key as a tensor: weights-only loading takes tensors,
        # tuples and numbers, not numpy arrays of uint32
        name, keys, pos, has_gauss, gauss = np.random.get_state()
        checkpoint['rng_state'] = dict(
            torch=torch.get_rng_state(),
            numpy=(name, torch.from_numpy(keys.astype(np.int64)), int(pos),
                   int(has_gauss), float(gauss)),
            python=random.getstate())
        stage_epochs = getattr(loop, 'stage_epochs', None)
        if stage_epochs is not None:
            checkpoint.setdefault('meta', {})['stage_epochs'] = dict(
                stage_epochs)
        if self.slim and hasattr(loop, 'external_parts'):
            self._slim(runner, loop, checkpoint)

    # -- slim checkpoints -------------------------------------------------
    def _slim(self, runner, loop, checkpoint: dict) -> None:
        """No optimizer state of finished stages; no weights that an
        earlier stage-end file of this run holds (see the class doc)."""
        # a copy: mmengine passes one meta dict to several saves
        meta = checkpoint['meta'] = dict(checkpoint.get('meta') or {})
        epoch = meta.get('epoch', runner.epoch)
        optim = checkpoint.get('optimizer')
        if isinstance(optim, dict):
            for stage in loop.finished_stages(epoch):
                if isinstance(optim.get(stage), dict):
                    optim[stage] = dict(optim[stage], state={})
        state = checkpoint['state_dict']
        # stage-end files go to the work dir, the others to out_dir
        folder = runner.work_dir if meta.get('stage') else self.out_dir
        refs = {}
        for path, prefixes in loop.external_parts(epoch, list(state)).items():
            keys = [k for k in state if key_in(k, prefixes)]
            if not keys:
                continue
            refs[osp.relpath(path, folder)] = dict(
                prefixes=prefixes, keys=len(keys),
                checksum=state_checksum(state, keys))
            for key in keys:
                del state[key]
        if refs:
            meta[EXTERNAL_STATE] = refs
        self._slim_masknet_selection(checkpoint, state, refs)

    @staticmethod
    def _slim_masknet_selection(checkpoint: dict, state: dict,
                                refs: dict) -> None:
        """The MaskNet copies of :class:`MaskNetSelectionHook`: none once
        the MaskNets are frozen and held by a stage-end file (at a later
        stage entry they would be loaded into MaskNets that hold them
        already); otherwise stored once, sharing the state dict's tensors
        where equal (``torch.save`` writes a storage once)."""
        selection = checkpoint.get('masknet_selection')
        if not isinstance(selection, dict) or \
                not selection.get('best_states'):
            return
        held = [p for ref in refs.values() for p in ref['prefixes']]
        if key_in('masknets.', held) or 'masknets.' in held:
            checkpoint['masknet_selection'] = dict(selection,
                                                   best_states={})
            return
        best = {}
        for key, masknet in selection['best_states'].items():
            best[key] = {}
            for name, value in masknet.items():
                own = state.get(f'masknets.{key}.{name}')
                same = own is not None and own.shape == value.shape and \
                    own.dtype == value.dtype and torch.equal(own, value)
                best[key][name] = own if same else value
        checkpoint['masknet_selection'] = dict(selection, best_states=best)

    def _keep_student_only(self, runner, loop, checkpoint: dict) -> None:
        """A best checkpoint: the student and what its stage trains."""
        model = unwrap_model(runner.model)
        target, members = getattr(model, 'target', None), \
            getattr(model, 'members', None)
        if target is None or members is None:
            return  # a member run: its whole model is the student
        stage = getattr(loop, 'stage', None) or getattr(model, 'stage',
                                                        None)
        kept = [f'members.{target}.']
        if stage is not None and hasattr(loop, 'trained_prefixes'):
            kept += loop.trained_prefixes(stage)
        other = [f'members.{m}.' for m in members if m != target] + \
            [f'{c}.' for c in getattr(model, 'components', ())]
        state = checkpoint['state_dict']
        assignment = {k: 'dropped' if key_in(k, other) and
                      not key_in(k, kept) else None for k in state}
        for key in [k for k, v in assignment.items() if v]:
            del state[key]
        for entry in ('masknet_selection', 'rng_state', 'optimizer',
                      'param_schedulers'):
            checkpoint.pop(entry, None)
        checkpoint['meta'] = dict(checkpoint.get('meta') or {})
        checkpoint['meta'][PARTIAL_STATE] = dict(
            kind='best', kept=sorted(set(kept)),
            dropped=group_prefixes(assignment).get('dropped', []))

    def _loading_path(self, runner) -> Optional[str]:
        path = getattr(runner, '_mstkd_loading', None) or runner._load_from
        if path is None and runner._resume:
            from mmengine.runner import find_latest_checkpoint
            path = find_latest_checkpoint(runner.work_dir)
        return path

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        meta = checkpoint.get('meta') or {}
        path = self._loading_path(runner)
        partial = meta.get(PARTIAL_STATE)
        if runner._resume and partial:
            raise UserInputError(
                f'{path} is a {partial.get("kind", "partial")} checkpoint: '
                f'it holds the student only ({", ".join(partial["kept"])}; '
                'no optimizer state); resume from an epoch_*.pth or '
                '{stage}_end.pth checkpoint of the run instead.')
        if partial and isinstance(checkpoint.get('state_dict'), dict):
            # load_from / tools/test.py: the parts a best checkpoint leaves
            # out keep the model's own weights (init or pretrained), and
            # are not reported as missing
            state = checkpoint['state_dict']
            for key, value in unwrap_model(runner.model).state_dict().items():
                if key not in state and key_in(key,
                                               partial.get('dropped', [])):
                    state[key] = value
        # an epoch_N.pth that is a hard link to the stage-end file
        end = path and meta.get('stage') and osp.join(
            osp.dirname(path), f'{meta["stage"]}_end.pth')
        stage_end = end if end and osp.isfile(end) and osp.samefile(
            end, path) else path
        if meta.get(EXTERNAL_STATE):
            used = fill_external_state(
                checkpoint, path,
                wanted=needed_by(unwrap_model(runner.model).state_dict()))
            if runner._resume:
                self._note_stage_end_files(runner, [stage_end, *used])
        elif runner._resume and meta.get('stage'):
            self._note_stage_end_files(runner, [stage_end])
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

    def _note_stage_end_files(self, runner, paths) -> None:
        """Stage-end files of the work dir that a resumed checkpoint is
        or refers to (checksums verified) hold this run's weights: later
        slim checkpoints may refer to them."""
        loop = self._train_loop(runner)
        known = getattr(loop, 'stage_end_files', None)
        if known is None:
            return
        for path in paths:
            if path is None:
                continue
            name = osp.basename(path)
            stage = name[:-len('_end.pth')] if name.endswith(
                '_end.pth') else None
            if name == INIT_FILE:
                stage = INIT
            elif stage not in getattr(loop, 'stage_epochs', {}):
                continue
            if osp.samefile(osp.dirname(osp.abspath(path)),
                            runner.work_dir):
                known[stage] = osp.join(runner.work_dir, name)

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
