"""One optimizer wrapper per MST-Distill stage."""
from typing import List, Optional

import torch.nn as nn
from mmengine.optim import OptimWrapperDict

from mstkd.models.distill.mask_hooks import unwrap_model
from mstkd.registry import (OPTIM_WRAPPER_CONSTRUCTORS, OPTIM_WRAPPERS,
                            OPTIMIZERS)

STAGES = ('s1', 's2', 's3')


def _params(modules: List[nn.Module]) -> list:
    seen, params = set(), []
    for module in modules:
        for p in module.parameters():
            if id(p) not in seen:
                seen.add(id(p))
                params.append(p)
    return params


@OPTIM_WRAPPER_CONSTRUCTORS.register_module()
class MSTOptimWrapperConstructor:
    """Build ``OptimWrapperDict(s1=..., s2=..., s3=...)``.

    Each wrapper's parameters come from the model's explicit module list for
    that stage (``model.stage_modules(stage)``), not from ``requires_grad``
    (which changes between stages). A stage without trainable modules (S2
    when MaskNets are skipped) gets no optimizer.

    Config::

        optim_wrapper = dict(
            constructor='MSTOptimWrapperConstructor',
            s1=dict(type='OptimWrapper', optimizer=dict(type='Adam', lr=1e-3)),
            s2=dict(type='OptimWrapper', optimizer=dict(type='Adam', lr=1e-3)),
            s3=dict(type='OptimWrapper', optimizer=dict(type='Adam', lr=1e-3)))
    """

    def __init__(self, optim_wrapper_cfg: dict,
                 paramwise_cfg: Optional[dict] = None):
        missing = [s for s in STAGES if s not in optim_wrapper_cfg]
        if missing:
            raise ValueError(f'optim_wrapper needs one entry per stage; '
                             f'missing {missing}.')
        if paramwise_cfg:
            raise ValueError('paramwise_cfg is not supported by '
                             'MSTOptimWrapperConstructor.')
        self.cfgs = {s: dict(optim_wrapper_cfg[s]) for s in STAGES}

    def __call__(self, model: nn.Module) -> OptimWrapperDict:
        model = unwrap_model(model)
        wrappers = {}
        for stage in STAGES:
            params = _params(model.stage_modules(stage))
            if not params:
                continue
            cfg = dict(self.cfgs[stage])
            cfg.setdefault('type', 'OptimWrapper')
            optimizer_cfg = dict(cfg.pop('optimizer'), params=params)
            cfg['optimizer'] = OPTIMIZERS.build(optimizer_cfg)
            wrappers[stage] = OPTIM_WRAPPERS.build(cfg)
        return OptimWrapperDict(**wrappers)
