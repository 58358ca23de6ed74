"""MST-Distill S3: per-teacher routing statistics (paper Fig. 4)."""
from typing import Optional

import torch
from mmengine.dist import all_reduce
from mmengine.hooks import Hook

from mstkd.models.wrappers import unwrap_model
from mstkd.registry import HOOKS


@HOOKS.register_module()
class RoutingStatsHook(Hook):
    """Log the mean routing probability and the top-k share of every
    specialized teacher per training epoch (MST-Distill Fig. 4).

    After every training step it reads the model's ``last_routing``
    (``(probs (B, N), topk_idx (B, k))`` of the step, set by
    :class:`~mstkd.models.MSTDistill` in S3) and accumulates on the device;
    at the end of the epoch the sums are all-reduced and written to the log
    and the visualizer backends as ``routing/prob/<teacher:layer>``,
    ``routing/topk/<teacher:layer>``, with the current ``routing/lambda1``
    and ``routing/lambda2`` (the weights of Eq. 18). Epochs without routing
    (S1, S2, mean routing) log nothing.
    """

    priority = 'LOW'

    def __init__(self) -> None:
        self._reset()

    def _reset(self) -> None:
        self.prob_sum: Optional[torch.Tensor] = None
        self.topk_count: Optional[torch.Tensor] = None
        self.samples: Optional[torch.Tensor] = None

    def before_train_epoch(self, runner) -> None:
        self._reset()

    @torch.no_grad()
    def after_train_iter(self, runner, batch_idx: int, data_batch=None,
                         outputs=None) -> None:
        model = unwrap_model(runner.model)
        routing = getattr(model, 'last_routing', None)
        if routing is None:
            return
        model.last_routing = None
        probs, topk_idx = routing
        counts = torch.bincount(topk_idx.flatten(),
                                minlength=probs.shape[1]).to(probs.dtype)
        if self.prob_sum is None:
            self.prob_sum = probs.sum(0)
            self.topk_count = counts
            self.samples = probs.new_tensor(float(probs.shape[0]))
        else:
            self.prob_sum += probs.sum(0)
            self.topk_count += counts
            self.samples += probs.shape[0]

    def after_train_epoch(self, runner) -> None:
        if self.prob_sum is None:
            return
        model = unwrap_model(runner.model)
        stats = [self.prob_sum, self.topk_count, self.samples]
        for value in stats:
            all_reduce(value)
        samples = float(self.samples)
        epoch = runner.epoch + 1
        scalars, parts = {}, []
        for j, spec in enumerate(model.specialized):
            prob = float(self.prob_sum[j]) / samples
            frac = float(self.topk_count[j]) / samples
            scalars[f'routing/prob/{spec.name}'] = prob
            scalars[f'routing/topk/{spec.name}'] = frac
            parts.append(f'{spec.name} p={prob:.3f} top-k={frac:.3f}')
        weights = model.loss_weights()
        scalars['routing/lambda1'] = weights['loss_routed_kd']
        scalars['routing/lambda2'] = weights['loss_lb']
        runner.visualizer.add_scalars(scalars, step=epoch)
        runner.logger.info(f'Routing (epoch {epoch}): ' + '; '.join(parts))
        self._reset()
