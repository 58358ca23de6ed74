"""MST-Distill S2: keep every MaskNet's best state by validation KL."""
import copy
from typing import Dict, List, Optional, Sequence

import torch
from mmengine.dist import all_reduce
from mmengine.hooks import Hook

from mstkd.models.wrappers import unwrap_model
from mstkd.registry import HOOKS
from ..utils import current_stage


#: ``best_kl`` key of the joint criterion (``masknet_selection='joint'``).
JOINT_KEY = '__joint__'


@HOOKS.register_module()
class MaskNetSelectionHook(Hook):
    """The best S2 state of every MaskNet, by its validation objective.

    Algorithm 1, lines 9-15 of MST-Distill: during the MaskNets' stage
    (``model.masknet_stage``) every validation pass also sums each MaskNet's
    KL (Eq. 10, ``model.masknet_val_kl``) over the validation set; after it
    a copy of every MaskNet whose mean KL improved is kept (or, with the
    model's ``masknet_selection='joint'``, of all MaskNets when their
    joint criterion improved: see :meth:`update`). At the end of
    that stage, and when a later stage is entered (e.g. after ``--resume``),
    the kept states are loaded into the MaskNets. The copies travel in
    checkpoints as ``checkpoint['masknet_selection']`` (not as parameters:
    mmengine broadcasts every ``state_dict`` entry under DDP).

    :class:`~mstkd.models.MSTDistill` requires this hook; the multi-stage
    loop registers it when the config does not.
    """

    priority = 'VERY_HIGH'

    def __init__(self) -> None:
        self.best_states: Dict[str, dict] = {}
        self.best_kl: Dict[str, float] = {}
        self._kl_sum: Optional[torch.Tensor] = None
        self._count: Optional[torch.Tensor] = None

    @staticmethod
    def _in_masknet_stage(runner, model) -> bool:
        stage = current_stage(runner)
        return stage is not None and stage == getattr(model, 'masknet_stage',
                                                      None) and \
            getattr(model, 'masknets_built', False) and model.use_masknets

    # -- validation ------------------------------------------------------
    def before_val_epoch(self, runner) -> None:
        self._kl_sum = self._count = None

    def after_val_iter(self, runner, batch_idx: int, data_batch=None,
                       outputs=None) -> None:
        model = unwrap_model(runner.model)
        if not self._in_masknet_stage(runner, model):
            return
        data = model.data_preprocessor(data_batch, False)
        kl_sum, count = model.masknet_val_kl(data['inputs'],
                                             data['data_samples'])
        if self._kl_sum is None:
            self._kl_sum, self._count = kl_sum, count
        else:
            self._kl_sum = self._kl_sum + kl_sum
            self._count = self._count + count

    def after_val_epoch(self, runner, metrics=None) -> None:
        model = unwrap_model(runner.model)
        if not self._in_masknet_stage(runner, model) or self._kl_sum is None:
            return
        kl_sum, count = self._kl_sum.clone(), self._count.clone()
        all_reduce(kl_sum)
        all_reduce(count)
        if float(count) == 0:
            return
        mean_kl = (kl_sum / count).tolist()
        improved = self.update(model, mean_kl)
        names = [s.name for s in model.specialized]
        runner.visualizer.add_scalars(
            {f'val/masknet_kl/{n}': kl for n, kl in zip(names, mean_kl)},
            step=runner.epoch)
        runner.logger.info(
            'MaskNet validation KL: ' +
            ', '.join(f'{n}={kl:.4f}' for n, kl in zip(names, mean_kl)) +
            (f' (improved: {", ".join(improved)})' if improved else ''))

    def update(self, model, mean_kl: Sequence[float]) -> List[str]:
        """Keep a copy of every MaskNet whose validation KL improved;
        returns the names of those specialized teachers.

        With ``model.masknet_selection == 'joint'`` (the reference
        release, ``main-MST-Distill.py``: one ``best_mn_val_loss`` for all
        MaskNets) the criterion is the sum over base teachers of the mean
        KL of their MaskNets, and all MaskNets are kept together when it
        improves.
        """
        specs = list(model.specialized)
        if getattr(model, 'masknet_selection', 'per_masknet') == 'joint':
            per_teacher: Dict[str, List[float]] = {}
            for spec, kl in zip(specs, mean_kl):
                per_teacher.setdefault(spec.teacher, []).append(float(kl))
            joint = sum(sum(v) / len(v) for v in per_teacher.values())
            if joint >= self.best_kl.get(JOINT_KEY, float('inf')):
                return []
            self.best_kl[JOINT_KEY] = joint
            better = specs
        else:
            better = [
                spec for spec, kl in zip(specs, mean_kl)
                if kl < self.best_kl.get(spec.key, float('inf'))
            ]
            for spec, kl in zip(specs, mean_kl):
                if spec in better:
                    self.best_kl[spec.key] = float(kl)
        for spec in better:
            self.best_states[spec.key] = copy.deepcopy(
                {k: v.detach().cpu() for k, v in
                 model.masknets[spec.key].state_dict().items()})
        return [spec.name for spec in better]

    def load_best(self, model) -> None:
        """Load the kept state into every MaskNet that has one."""
        for key, state in self.best_states.items():
            model.masknets[key].load_state_dict(state)

    # -- stages ------------------------------------------------------------
    def before_train_stage(self, runner, stage: str) -> None:
        model = unwrap_model(runner.model)
        masknet_stage = getattr(model, 'masknet_stage', None)
        stages = list(getattr(model, 'stages', {}))
        if masknet_stage in stages and \
                stages.index(stage) > stages.index(masknet_stage):
            # Algorithm 1, line 15: the MaskNets of their best S2 epoch.
            self.load_best(model)

    def after_train_stage(self, runner, stage: str) -> None:
        model = unwrap_model(runner.model)
        if stage == getattr(model, 'masknet_stage', None):
            self.load_best(model)

    # -- checkpoints -------------------------------------------------------
    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        checkpoint['masknet_selection'] = dict(best_states=self.best_states,
                                               best_kl=self.best_kl)

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        state = checkpoint.get('masknet_selection')
        if state is not None:
            self.best_states = dict(state.get('best_states', {}))
            self.best_kl = dict(state.get('best_kl', {}))
