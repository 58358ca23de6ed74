"""A CheckpointHook aware of training stages."""
from typing import Sequence

from mmengine.hooks import CheckpointHook

from mstkd.registry import HOOKS
from ..utils import current_stage


@HOOKS.register_module()
class StageCheckpointHook(CheckpointHook):
    """CheckpointHook that keeps the best model only in some stages.

    In MST-Distill, for example, the student is selected by validation loss
    in S3 (the distillation stage); the S1/S2 validations are reported but
    must not compete for "best student". Per-epoch checkpoints (for
    ``--resume``) are written in every stage as usual.

    Args:
        best_stages (Sequence[str]): Stages (``runner.train_loop.stage``)
            in which ``save_best`` applies. Defaults to ('s3', ).
        **kwargs: :class:`mmengine.hooks.CheckpointHook` arguments.
    """

    def __init__(self, best_stages: Sequence[str] = ('s3', ), **kwargs):
        super().__init__(**kwargs)
        self.best_stages = tuple(best_stages)

    def after_val_epoch(self, runner, metrics):
        stage = current_stage(runner)
        if stage is not None and stage not in self.best_stages:
            return
        super().after_val_epoch(runner, metrics)
