"""Stop the run at the first NaN/Inf loss term or trainable parameter."""
import math
import os.path as osp
from typing import Dict, List, Optional

import torch
from mmengine.hooks import Hook

from mstkd.models.wrappers import unwrap_model
from mstkd.registry import HOOKS
from mstkd.utils.errors import TrainingDivergedError
from ..utils import current_stage


def _scalars(outputs) -> Dict[str, float]:
    """The scalar entries of a ``train_step`` result (``loss`` and every
    term that mmengine's ``parse_losses`` logs) as floats."""
    values = {}
    if not isinstance(outputs, dict):
        return values
    for key, value in outputs.items():
        if isinstance(value, torch.Tensor) and value.numel() == 1:
            values[key] = float(value.detach())
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            values[key] = float(value)
    return values


@HOOKS.register_module()
class NaNGuardHook(Hook):
    """Raise :class:`~mstkd.utils.errors.TrainingDivergedError` as soon as a
    loss term or a trainable parameter is NaN or infinite.

    After every training iteration, every scalar of the ``train_step``
    result (``loss`` and each ``loss_*`` term) is checked; the trainable
    parameters (``requires_grad``) are checked every ``param_interval``
    iterations, at the end of every epoch and at the end of every stage of
    a multi-stage loop. The error names the stage (None in single-stage
    runs), the epoch, the iteration and the loss terms with their values in
    one message; ``tools/train.py`` prints it as one line and exits with
    status 3.

    The error is a :class:`~mstkd.utils.errors.RunFailedError`, not a
    :class:`~mstkd.utils.errors.UserInputError` (exit status 2): the config
    was accepted and nothing in it is wrong as such; the run failed (a too
    large learning rate, bad values in the data, an unstable loss).

    The priority ('ABOVE_NORMAL') places it before the checkpoint hooks
    ('VERY_LOW'), so the iteration or epoch that diverged is never saved and
    the last good checkpoint is kept; and after 'VERY_HIGH' hooks such as
    :class:`MaskNetSelectionHook`, whose ``after_train_stage`` restores the
    best MaskNets that the stage-end check then sees.

    Args:
        param_interval (int): Check the parameters every this many
            iterations (and at every epoch / stage end); 0 checks them only
            at epoch and stage ends. The check is one ``sum`` per parameter
            and one device synchronisation (on AV-Digits' MST-Distill, under
            1% of a training iteration on a CPU).
    """

    priority = 'ABOVE_NORMAL'

    def __init__(self, param_interval: int = 1) -> None:
        if param_interval < 0:
            raise ValueError('param_interval must be >= 0, got '
                             f'{param_interval}')
        self.param_interval = param_interval
        self._last_losses: Dict[str, float] = {}

    # -- checks --------------------------------------------------------------
    @staticmethod
    def nonfinite_params(model: torch.nn.Module,
                         limit: int = 3) -> List[str]:
        """Names of (up to ``limit``) trainable parameters holding NaN/Inf.

        Fast path: the sum of every parameter, stacked, one synchronisation;
        a sum is non-finite if the parameter is (or overflows: then the
        exact per-parameter test decides).
        """
        params = [(n, p) for n, p in model.named_parameters()
                  if p.requires_grad and p.is_floating_point()]
        if not params:
            return []
        with torch.no_grad():
            sums = torch.stack([p.detach().sum().float() for _, p in params])
            if bool(torch.isfinite(sums).all()):
                return []
            bad = []
            for name, p in params:
                if not bool(torch.isfinite(p.detach()).all()):
                    bad.append(name)
                    if len(bad) >= limit:
                        break
        return bad

    @staticmethod
    def _where(runner, iteration: int, batch_idx: Optional[int] = None,
               epoch: Optional[int] = None) -> str:
        """``stage S, epoch E, iteration I (batch b/n of the epoch)``, all
        1-based as in the log lines."""
        stage = current_stage(runner)
        where = f'stage {stage}, ' if stage is not None else ''
        epoch = runner.epoch + 1 if epoch is None else epoch
        where += f'epoch {epoch}, iteration {iteration}'
        if batch_idx is not None:
            loader = getattr(runner.train_loop, 'dataloader', None)
            try:
                where += f' (batch {batch_idx + 1}/{len(loader)} of the ' \
                         'epoch)'
            except TypeError:
                where += f' (batch {batch_idx + 1} of the epoch)'
        return where

    @staticmethod
    def _format_losses(losses: Dict[str, float]) -> str:
        if not losses:
            return 'no loss terms logged'
        return ', '.join(f'{k}={v:.6g}' for k, v in losses.items())

    @staticmethod
    def _kept_checkpoint(runner) -> str:
        path = osp.join(runner.work_dir, 'last_checkpoint')
        if osp.isfile(path):
            with open(path) as f:
                last = f.read().strip()
            if last:
                return f' The last checkpoint saved, {last}, is kept.'
        return ' No checkpoint had been saved.'

    def _fail(self, runner, what: str, where: str,
              losses: Dict[str, float]) -> None:
        message = (
            f'training diverged: {what} at {where}; loss terms: '
            f'{self._format_losses(losses)}.'
            f'{self._kept_checkpoint(runner)} Lower the learning rate, '
            'check the inputs for NaN/Inf, or clip the gradients '
            '(optim_wrapper.clip_grad).')
        runner.logger.error(message)
        raise TrainingDivergedError(message)

    def _check_params(self, runner, where: str) -> None:
        bad = self.nonfinite_params(unwrap_model(runner.model))
        if bad:
            self._fail(runner, 'non-finite parameter(s) ' + ', '.join(bad),
                       where, self._last_losses)

    # -- hook points ---------------------------------------------------------
    def after_train_iter(self, runner, batch_idx: int, data_batch=None,
                         outputs=None) -> None:
        losses = _scalars(outputs)
        self._last_losses = losses
        # runner.iter counts the iterations done before this one.
        iteration = runner.iter + 1
        bad = [k for k, v in losses.items() if not math.isfinite(v)]
        if bad:
            self._fail(runner, 'non-finite loss term(s) ' + ', '.join(bad),
                       self._where(runner, iteration, batch_idx), losses)
        if self.param_interval and iteration % self.param_interval == 0:
            self._check_params(runner,
                               self._where(runner, iteration, batch_idx))

    def after_train_epoch(self, runner) -> None:
        # runner.iter already counts this epoch's iterations.
        self._check_params(
            runner, 'the end of ' + self._where(runner, runner.iter))

    def after_train_stage(self, runner, stage: str) -> None:
        # the stage's last epoch is counted in runner.epoch by now
        self._check_params(runner, 'the end of ' + self._where(
            runner, runner.iter, epoch=runner.epoch))
