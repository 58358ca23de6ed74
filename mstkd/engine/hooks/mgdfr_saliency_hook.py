"""Computes MGDFR's channel ranking when its distillation stage starts."""
import time

from mmengine.dist import broadcast, is_distributed
from mmengine.hooks import Hook

from mstkd.models.wrappers import unwrap_model
from mstkd.registry import HOOKS


@HOOKS.register_module()
class MGDFRSaliencyHook(Hook):
    """At the start of ``model.saliency_stage``, rank the teacher's channels
    on the training set (:meth:`MGDFRDistiller.compute_saliency`), unless
    the ranking is already in the model (a resumed run: it is a buffer of
    the checkpoint). Under DDP each rank ranks on its shard and rank 0's
    ranking (and student re-initialisation) is broadcast."""

    priority = 'NORMAL'

    def before_train_stage(self, runner, stage: str) -> None:
        model = unwrap_model(runner.model)
        if stage != getattr(model, 'saliency_stage', None) or \
                bool(model.saliency_done):
            return
        start = time.time()
        model.compute_saliency(runner.train_dataloader)
        if is_distributed():
            for tensor in [model.salience, model.general_mask] + list(
                    model.student.state_dict().values()):
                broadcast(tensor, src=0)
        runner.logger.info(f'MGDFR channel ranking took '
                           f'{time.time() - start:.1f} s')
