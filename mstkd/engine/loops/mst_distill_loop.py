"""The three-stage training loop of MST-Distill (paper Algorithm 1)."""
from mstkd.registry import LOOPS
from .multi_stage_loop import MultiStageTrainLoop


@LOOPS.register_module()
class MSTDistillLoop(MultiStageTrainLoop):
    """S1 -> S2 -> S3 of MST-Distill: :class:`MultiStageTrainLoop` with
    ``stages=dict(s1=s1_epochs, s2=s2_epochs, s3=s3_epochs)``.

    A stage with 0 epochs is skipped (e.g. ``s2_epochs=0`` with
    ``use_masknets=False``). The MaskNets are built from a dry forward
    before the optimizers; the best S2 state of every MaskNet and the
    routing statistics are handled by the hooks MSTDistill requires
    (:class:`~mstkd.engine.hooks.MaskNetSelectionHook`,
    :class:`~mstkd.engine.hooks.RoutingStatsHook`), registered here when the
    config does not list them.

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
        super().__init__(
            runner, dataloader,
            stages=dict(s1=s1_epochs, s2=s2_epochs, s3=s3_epochs),
            val_begin=val_begin, val_interval=val_interval)
