"""An ETA that knows the stages ahead."""
from typing import Dict, List, Optional

from mmengine.hooks import Hook

from mstkd.registry import HOOKS
from ..utils import current_stage


@HOOKS.register_module()
class StageETAHook(Hook):
    """Replace the logged ``eta`` by one that counts every stage ahead.

    mmengine's ``IterTimerHook`` extrapolates the average iteration time
    since the start (or resume) over all remaining iterations, which is
    wrong when stages run at different speeds (MST-Distill's S2 costs
    hundreds of student iterations, its cached S3 about one). This hook
    keeps the mean iteration time of every stage it has seen (the first
    ``warmup`` iterations of a stage are left out when the stage has more)
    and estimates each remaining stage at its own measured speed, or, for a
    stage not run yet, at the speed of the stage that runs now; the first
    time it guesses so it says which stages are guessed.

    It runs after ``IterTimerHook`` and before ``LoggerHook``. The
    multi-stage loop registers it (``MultiStageTrainLoop``).

    Args:
        warmup (int): Iterations skipped at the start of each stage.
            Defaults to 2.
    """

    priority = 55  # after IterTimerHook (NORMAL), before LoggerHook

    def __init__(self, warmup: int = 2) -> None:
        self.warmup = warmup
        self.times: Dict[str, List[float]] = {}
        self._said: set = set()

    def mean_time(self, stage: str) -> Optional[float]:
        times = self.times.get(stage) or []
        if len(times) > self.warmup:
            times = times[self.warmup:]
        return sum(times) / len(times) if times else None

    def eta(self, loop, stage: str, iters_left_in_stage: int
            ) -> tuple:
        """``(seconds, guessed stages)`` for the rest of the run."""
        now = self.mean_time(stage)
        if now is None:
            return None, []
        per_epoch = len(loop.dataloader)
        names = list(loop.stage_epochs)
        total = now * iters_left_in_stage
        guessed = []
        for name in names[names.index(stage) + 1:]:
            epochs = loop.stage_epochs[name]
            if not epochs:
                continue
            speed = self.mean_time(name)
            if speed is None:
                speed = now
                guessed.append(name)
            total += speed * epochs * per_epoch
        return total, guessed

    def after_train_iter(self, runner, batch_idx: int, data_batch=None,
                         outputs=None) -> None:
        loop = runner.train_loop
        stage = current_stage(runner)
        if stage is None or not hasattr(loop, 'stage_at'):
            return
        hub = runner.message_hub
        if 'train/time' not in hub.log_scalars:
            return
        self.times.setdefault(stage, []).append(
            float(hub.get_scalar('train/time').current()))
        per_epoch = len(loop.dataloader)
        _, start = loop.stage_at(loop.epoch)
        stage_end = (start + loop.stage_epochs[stage]) * per_epoch
        seconds, guessed = self.eta(loop, stage,
                                    stage_end - (runner.iter + 1))
        if seconds is None:
            return
        hub.update_info('eta', seconds)
        key = (stage, tuple(guessed))
        if guessed and key not in self._said:
            self._said.add(key)
            runner.logger.info(
                f'eta: stage(s) {", ".join(guessed)} not run yet, '
                f'estimated at the speed of {stage} '
                f'({self.mean_time(stage):.3f} s/iter)')
