"""MST-Distill S3: per-teacher routing statistics (paper Fig. 4) and
routing diagnostics."""
import json
import os.path as osp
from typing import Dict, Optional

import torch
from mmengine.dist import all_reduce, is_main_process
from mmengine.hooks import Hook

from mstkd.models.wrappers import unwrap_model
from mstkd.registry import HOOKS


@HOOKS.register_module()
class RoutingStatsHook(Hook):
    """Log per S3 epoch, for every specialized teacher, the mean routing
    probability and the top-k share (MST-Distill Fig. 4), and diagnostics
    of whether the routing learns:

    - ``routing/entropy``: the mean entropy (nats) of the per-sample routing
      distribution (``log N`` = uniform, 0 = one teacher);
    - ``routing/best_ce_share``: the share of samples whose top-1 teacher is
      the one with the lowest CE on the true label (classification; chance
      is about ``1 / N``);
    - the per-class routing matrix (top-1 counts, true class x teacher),
      appended per epoch to ``<log_dir>/routing_class_matrix.json``.

    After every training step it reads the model's ``last_routing`` (a
    dict ``probs (B, N)``, ``topk (B, k)`` and, for classification,
    ``labels``, ``best``; set by :class:`~mstkd.models.MSTDistill` in S3)
    and accumulates on the device; at the end of the epoch the sums are
    all-reduced and written to the log and the visualizer backends as
    ``routing/prob/<teacher:layer>``, ``routing/topk/<teacher:layer>`` with
    the current ``routing/lambda1`` and ``routing/lambda2`` (the weights of
    Eq. 18). Epochs without routing (S1, S2, mean routing) log nothing.
    """

    priority = 'LOW'

    def __init__(self) -> None:
        self._reset()

    def _reset(self) -> None:
        self.sums: Optional[Dict[str, torch.Tensor]] = None

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
        probs, topk = routing['probs'], routing['topk']
        num = probs.shape[1]
        step = dict(
            prob=probs.sum(0),
            topk=torch.bincount(topk.flatten(), minlength=num).to(
                probs.dtype),
            samples=probs.new_tensor(float(probs.shape[0])),
            entropy=-(probs * probs.clamp_min(1e-12).log()).sum())
        if 'best' in routing:
            top1 = topk[:, 0]
            step['best'] = (top1 == routing['best']).sum().to(probs.dtype)
            classes = int(getattr(model, 'num_classes', 0) or
                          int(routing['labels'].max()) + 1)
            matrix = torch.zeros(classes, num, dtype=probs.dtype,
                                 device=probs.device)
            matrix.index_put_((routing['labels'].long(), top1),
                              torch.ones_like(top1, dtype=probs.dtype),
                              accumulate=True)
            step['class_matrix'] = matrix
        if self.sums is None:
            self.sums = step
        else:
            for key, value in step.items():
                self.sums[key] += value

    def after_train_epoch(self, runner) -> None:
        if self.sums is None:
            return
        model = unwrap_model(runner.model)
        for key in sorted(self.sums):
            all_reduce(self.sums[key])
        sums = self.sums
        samples = float(sums['samples'])
        epoch = runner.epoch + 1
        scalars, parts = {}, []
        for j, spec in enumerate(model.specialized):
            prob = float(sums['prob'][j]) / samples
            frac = float(sums['topk'][j]) / samples
            scalars[f'routing/prob/{spec.name}'] = prob
            scalars[f'routing/topk/{spec.name}'] = frac
            parts.append(f'{spec.name} p={prob:.3f} top-k={frac:.3f}')
        scalars['routing/entropy'] = float(sums['entropy']) / samples
        parts.append(f'entropy {scalars["routing/entropy"]:.3f}')
        if 'best' in sums:
            scalars['routing/best_ce_share'] = float(sums['best']) / samples
            parts.append('top-1 = lowest-CE teacher '
                         f'{scalars["routing/best_ce_share"]:.3f}')
            if is_main_process():
                self._write_matrix(runner, model, epoch,
                                   sums['class_matrix'])
        weights = model.loss_weights()
        scalars['routing/lambda1'] = weights['loss_routed_kd']
        if 'loss_lb' in weights:
            scalars['routing/lambda2'] = weights['loss_lb']
        runner.visualizer.add_scalars(scalars, step=epoch)
        runner.logger.info(f'Routing (epoch {epoch}): ' + '; '.join(parts))
        self._reset()

    @staticmethod
    def _write_matrix(runner, model, epoch: int,
                      matrix: torch.Tensor) -> None:
        path = osp.join(runner.log_dir, 'routing_class_matrix.json')
        entry = dict(epoch=epoch,
                     teachers=[s.name for s in model.specialized],
                     counts=matrix.long().tolist())
        with open(path, 'a') as f:
            f.write(json.dumps(entry) + '\n')
