"""The three-stage training loop of MST-Distill (paper Algorithm 1)."""
import os
import os.path as osp
from collections import OrderedDict
from typing import Dict, Optional, Tuple

import torch
from mmengine.dist import all_reduce, is_distributed, is_main_process
from mmengine.runner import EpochBasedTrainLoop

from mstkd.models.distill.mask_hooks import unwrap_model
from mstkd.registry import LOOPS
from ..hooks import MSTStateHook

STAGE_NAMES = dict(s1='S1 collaborative initialization',
                   s2='S2 specialized teacher adaptation',
                   s3='S3 dynamic knowledge distillation')


@LOOPS.register_module()
class MSTDistillLoop(EpochBasedTrainLoop):
    """S1 -> S2 -> S3 with one global epoch/iteration counter.

    Epochs ``[0, s1)`` are S1, ``[s1, s1 + s2)`` S2 and the rest S3, so a
    checkpoint's epoch alone says where ``--resume`` continues. A stage with
    0 epochs is skipped (e.g. ``s2_epochs=0`` with ``use_masknets=False``).

    At each stage entry the loop sets the model's stage (freezing and eval
    mode of the frozen parts, MaskNets restored to their best validation
    state before S3), re-wraps the model in DDP for the new trainable set,
    and calls the ``before_train_stage`` hook point. Each iteration uses the
    stage's own optimizer wrapper (``optim_wrapper[stage]``). At each stage
    end a checkpoint ``{stage}_end.pth`` is written (atomically). During S2
    the MaskNets' validation KL (Eq. 8) is computed and the best state of
    every MaskNet is kept; during S3 the routing statistics of every
    specialized teacher (mean probability, top-k frequency; paper Fig. 4)
    are logged per epoch to the log and the visualizer backends.

    Args:
        runner (Runner): The runner.
        dataloader (DataLoader | dict): The training dataloader.
        s1_epochs (int): Epochs of S1.
        s2_epochs (int): Epochs of S2.
        s3_epochs (int): Epochs of S3.
        val_begin (int): First epoch to validate. Defaults to 1.
        val_interval (int): Validation interval. Defaults to 1.
    """

    def __init__(self, runner, dataloader, s1_epochs: int, s2_epochs: int,
                 s3_epochs: int, val_begin: int = 1, val_interval: int = 1):
        self.stage_epochs = OrderedDict(
            s1=int(s1_epochs), s2=int(s2_epochs), s3=int(s3_epochs))
        if any(v < 0 for v in self.stage_epochs.values()):
            raise ValueError(f'Stage epochs must be >= 0: {self.stage_epochs}')
        super().__init__(runner, dataloader,
                         max_epochs=sum(self.stage_epochs.values()),
                         val_begin=val_begin, val_interval=val_interval)
        self.stage: Optional[str] = None
        if not any(isinstance(h, MSTStateHook) for h in runner.hooks):
            runner.register_hook(MSTStateHook())
        model = self.model
        if model.use_masknets and self.stage_epochs['s3'] + \
                self.stage_epochs['s2'] > 0 and not model.masknets_built:
            # Before the optimizers are built and a checkpoint is resumed.
            model.build_masknets(self._example_inputs())
        if self.stage_epochs['s2'] > 0 and not model.use_masknets:
            raise ValueError('s2_epochs > 0 but the model has '
                             'use_masknets=False: set s2_epochs=0.')

    # ------------------------------------------------------------------
    @property
    def model(self):
        return unwrap_model(self.runner.model)

    def _example_inputs(self) -> Dict[str, torch.Tensor]:
        """Two collated training samples through the data preprocessor."""
        dataset = self.dataloader.dataset
        batch = self.dataloader.collate_fn(
            [dataset[i] for i in range(min(2, len(dataset)))])
        return self.model.data_preprocessor(batch, False)['inputs']

    def stage_at(self, epoch: int) -> Tuple[str, int]:
        """``(stage, first epoch of that stage)`` of a global epoch."""
        start = 0
        for stage, num in self.stage_epochs.items():
            if epoch < start + num:
                return stage, start
            start += num
        raise ValueError(f'epoch {epoch} is past the last stage')

    # ------------------------------------------------------------------
    def run(self) -> torch.nn.Module:
        self.runner.call_hook('before_train')
        while self._epoch < self._max_epochs and not self.stop_training:
            stage, start = self.stage_at(self._epoch)
            if stage != self.stage:
                self._enter_stage(stage, self._epoch - start)
            self.model.stage_epoch = self._epoch - start
            self.run_epoch()
            if stage == 's3':
                self._log_routing()
            if (self.runner.val_loop is not None
                    and self._epoch >= self.val_begin
                    and (self._epoch % self.val_interval == 0
                         or self._epoch == start + self.stage_epochs[stage])):
                self._validate(stage)
            if self._epoch == start + self.stage_epochs[stage]:
                self._finish_stage(stage)
        self.runner.call_hook('after_train')
        return self.runner.model

    def run_iter(self, idx, data_batch) -> None:
        self.runner.call_hook(
            'before_train_iter', batch_idx=idx, data_batch=data_batch)
        outputs = self.runner.model.train_step(
            data_batch, optim_wrapper=self.runner.optim_wrapper[self.stage])
        self.runner.call_hook(
            'after_train_iter', batch_idx=idx, data_batch=data_batch,
            outputs=outputs)
        self._iter += 1

    # ------------------------------------------------------------------
    def _enter_stage(self, stage: str, stage_epoch: int) -> None:
        model = self.model
        if stage == 's3':
            # Algorithm 1, line 15: the MaskNets of their best S2 epoch.
            model.load_best_masknets()
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
            f'Entering {STAGE_NAMES[stage]} at epoch {self._epoch + 1} '
            f'({self.stage_epochs[stage]} epochs, {trainable:,} trainable '
            'parameters)')
        self.runner.call_hook('before_train_stage', stage=stage)

    def _finish_stage(self, stage: str) -> None:
        if stage == 's2':
            self.model.load_best_masknets()
        self.runner.call_hook('after_train_stage', stage=stage)
        self._save_stage_checkpoint(stage)

    def _save_stage_checkpoint(self, stage: str) -> None:
        """``{stage}_end.pth``, written to a temporary name and renamed, so
        a kill never leaves a truncated stage checkpoint."""
        work_dir = self.runner.work_dir
        name = f'{stage}_end.pth'
        tmp = f'.{name}.tmp'
        self.runner.save_checkpoint(
            work_dir, tmp, meta=dict(epoch=self._epoch, iter=self._iter,
                                     stage=stage))
        if is_main_process():
            os.replace(osp.join(work_dir, tmp), osp.join(work_dir, name))
            self.runner.logger.info(f'{STAGE_NAMES[stage]} finished: '
                                    f'{osp.join(work_dir, name)}')

    def _validate(self, stage: str) -> None:
        self.runner.val_loop.run()
        if stage != 's2':
            return
        model = self.model
        val = model.pop_masknet_val()
        for value in val.values():
            all_reduce(value)
        if float(val['samples']) == 0:
            return
        mean_kl = (val['kl_sum'] / val['samples']).tolist()
        improved = model.update_best_masknets(mean_kl)
        scalars = {f'val/masknet_kl/{s.name}': kl
                   for s, kl in zip(model.specialized, mean_kl)}
        self.runner.visualizer.add_scalars(scalars, step=self._epoch)
        self.runner.logger.info(
            'MaskNet validation KL: ' + ', '.join(
                f'{s.name}={kl:.4f}'
                for s, kl in zip(model.specialized, mean_kl)) +
            (f' (improved: {", ".join(improved)})' if improved else ''))

    def _log_routing(self) -> None:
        model = self.model
        stats = model.pop_routing_stats()
        for value in stats.values():
            all_reduce(value)
        samples = float(stats['samples'])
        if samples == 0:
            return
        scalars = {}
        parts = []
        for j, spec in enumerate(model.specialized):
            prob = float(stats['prob_sum'][j]) / samples
            frac = float(stats['topk_count'][j]) / samples
            scalars[f'routing/prob/{spec.name}'] = prob
            scalars[f'routing/topk/{spec.name}'] = frac
            parts.append(f'{spec.name} p={prob:.3f} top-k={frac:.3f}')
        lambda1, lambda2 = model.lambdas()
        scalars.update({'routing/lambda1': lambda1, 'routing/lambda2': lambda2})
        self.runner.visualizer.add_scalars(scalars, step=self._epoch)
        self.runner.logger.info(f'Routing (epoch {self._epoch}): ' +
                                '; '.join(parts))
