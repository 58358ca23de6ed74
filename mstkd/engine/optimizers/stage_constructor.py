"""One optimizer wrapper per training stage."""
from typing import List, Optional

import torch.nn as nn
from mmengine.optim import OptimWrapperDict

from mstkd.models.wrappers import unwrap_model
from mstkd.registry import (OPTIM_WRAPPER_CONSTRUCTORS, OPTIM_WRAPPERS,
                            OPTIMIZERS)
from mstkd.utils.errors import UserInputError


def _params(modules: List[nn.Module]) -> list:
    seen, params = set(), []
    for module in modules:
        for p in module.parameters():
            if id(p) not in seen:
                seen.add(id(p))
                params.append(p)
    return params


@OPTIM_WRAPPER_CONSTRUCTORS.register_module()
class StageOptimWrapperConstructor:
    """Build ``OptimWrapperDict(<stage>=..., ...)`` for a multi-stage model.

    The stage names are the config's keys; each must be a stage the model
    declares, and every declared stage that trains parameters needs one.
    Each wrapper's parameters come from the model's explicit module list
    for that stage (``model.stage_modules(stage)``), not from
    ``requires_grad`` (which changes between stages). A stage without
    trainable parameters (MST's S2 when MaskNets are skipped) gets no
    optimizer.

    Config::

        optim_wrapper = dict(
            constructor='StageOptimWrapperConstructor',
            s1=dict(type='OptimWrapper', optimizer=dict(type='Adam', lr=1e-3)),
            s2=dict(optimizer=dict(type='Adam', lr=1e-3)),
            s3=dict(optimizer=dict(type='SGD', lr=1e-2, momentum=0.9)))
    """

    def __init__(self, optim_wrapper_cfg: dict,
                 paramwise_cfg: Optional[dict] = None):
        if paramwise_cfg:
            raise UserInputError('paramwise_cfg is not supported by '
                                 'StageOptimWrapperConstructor.')
        bad = [k for k, v in optim_wrapper_cfg.items()
               if not isinstance(v, dict) or 'optimizer' not in v]
        if bad:
            raise UserInputError(
                f'optim_wrapper holds one wrapper config per stage, each '
                f'with an optimizer (e.g. s1=dict(optimizer=dict(type='
                f"'Adam', lr=1e-3))); not one: {bad}.")
        self.cfgs = {s: dict(c) for s, c in optim_wrapper_cfg.items()}

    def __call__(self, model: nn.Module) -> OptimWrapperDict:
        model = unwrap_model(model)
        stages = list(model.stages)
        unknown = [s for s in self.cfgs if s not in stages]
        if unknown:
            raise UserInputError(
                f'optim_wrapper has entries {unknown} that are not stages '
                f'of {type(model).__name__}; its stages: {stages}.')
        wrappers = {}
        for stage in stages:
            params = _params(model.stage_modules(stage))
            if not params:
                continue
            if stage not in self.cfgs:
                raise UserInputError(
                    f'optim_wrapper needs one entry per stage that trains '
                    f'parameters; missing "{stage}" (stages: {stages}).')
            cfg = dict(self.cfgs[stage])
            cfg.setdefault('type', 'OptimWrapper')
            optimizer_cfg = dict(cfg.pop('optimizer'), params=params)
            cfg['optimizer'] = OPTIMIZERS.build(optimizer_cfg)
            wrappers[stage] = OPTIM_WRAPPERS.build(cfg)
        return OptimWrapperDict(**wrappers)
