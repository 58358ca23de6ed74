"""Keeps MST-Distill's non-parameter training state in checkpoints."""
from mmengine.hooks import Hook

from mstkd.models.distill.mask_hooks import unwrap_model
from mstkd.registry import HOOKS


@HOOKS.register_module()
class MSTStateHook(Hook):
    """Save and restore ``model.mst_state()`` (the best S2 state of every
    MaskNet) as ``checkpoint['mst_state']``, so a run killed in S2 or S3
    resumes with the MaskNets it had selected. :class:`MSTDistillLoop`
    registers it; it is not a parameter/buffer because mmengine broadcasts
    every ``state_dict`` entry as a tensor under DDP."""

    priority = 'VERY_HIGH'

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        model = unwrap_model(runner.model)
        if hasattr(model, 'mst_state'):
            checkpoint['mst_state'] = model.mst_state()

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        model = unwrap_model(runner.model)
        if hasattr(model, 'load_mst_state') and 'mst_state' in checkpoint:
            model.load_mst_state(checkpoint['mst_state'])
