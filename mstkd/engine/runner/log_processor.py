"""Training log lines that say which stage is training."""
from typing import Tuple

from mmengine.runner import LogProcessor

from mstkd.models.wrappers import unwrap_model
from mstkd.registry import LOG_PROCESSORS
from mstkd.visualization.plots import stage_label
from ..utils import current_stage


@LOG_PROCESSORS.register_module()
class StageLogProcessor(LogProcessor):
    """mmengine's :class:`~mmengine.runner.LogProcessor` for multi-stage
    runs: every training line starts with the stage (``S1``/``S2``/``S3``
    or the method's stage name), shows only the learning rate of the
    stage's optimizer (``s2.lr``, not every stage's) and, where the model
    names scheduled loss weights (MST-Distill: ``lambda1``, ``lambda2`` of
    Eq. 18 in S3), their current values::

        S3 Epoch(train) [5][20/47]  s3.lr: 1.0000e-03  eta: ...  loss: ...
        loss_ce: 0.61  loss_routed_kd: 0.20  loss_lb: 0.00  lambda1: 1.0000
        lambda2: 0.9000

    Runs without a multi-stage loop log as mmengine does.
    """

    def _collect_scalars(self, custom_cfg, runner, mode: str,
                         reserve_prefix: bool = False) -> dict:
        tag = super()._collect_scalars(custom_cfg, runner, mode,
                                       reserve_prefix)
        stage = current_stage(runner)
        if mode == 'train' and stage is not None:
            for key in list(tag):
                name = key.rsplit('/', 1)[-1]
                if name.endswith('lr') and '.' in name and \
                        name.split('.', 1)[0] != stage:
                    tag.pop(key)  # another stage's optimizer
        return tag

    def get_log_after_iter(self, runner, batch_idx: int,
                           mode: str) -> Tuple[dict, str]:
        tag, log_str = super().get_log_after_iter(runner, batch_idx, mode)
        stage = current_stage(runner)
        if mode != 'train' or stage is None:
            return tag, log_str
        log_str = f'{stage_label(stage)} {log_str}'
        model = unwrap_model(runner.model)
        names = getattr(model, 'loss_weight_names', {})
        weights = model.loss_weights() if names and hasattr(
            model, 'loss_weights') else {}
        shown = [f'{names[k]}: {float(w):.4f}' for k, w in weights.items()
                 if k in names]
        if shown:
            log_str = f'{log_str}  ' + '  '.join(shown)
        return tag, log_str
