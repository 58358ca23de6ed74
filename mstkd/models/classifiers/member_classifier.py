from typing import Dict, Optional, Union

import torch
import torch.nn.functional as F
from mmengine.model import BaseModel

from mstkd.registry import MODELS
from ..task_modules.tasks.cls_task import pack_predictions

Inputs = Union[torch.Tensor, Dict[str, torch.Tensor]]


@MODELS.register_module()
class MemberClassifier(BaseModel):
    """Plain supervised training of one member (the paper's "w/o KD" row).

    Args:
        member (dict): Config of the network (``LeNet5``, ``CNN2d``,
            ``LateFusionNet``, ...); it maps the batch's ``inputs`` dict to
            logits.
        data_preprocessor (dict, optional): Defaults to mmengine's
            ``BaseDataPreprocessor`` (moves the batch to the device).
    """

    def __init__(self, member: dict, data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None):
        super().__init__(data_preprocessor=data_preprocessor,
                         init_cfg=init_cfg)
        self.member = MODELS.build(member)

    def forward(self, inputs: Inputs, data_samples: Optional[dict] = None,
                mode: str = 'tensor'):
        logits = self.member(inputs)
        if mode == 'tensor':
            return logits
        if mode == 'loss':
            return dict(loss_ce=F.cross_entropy(logits,
                                                data_samples['gt_label']))
        if mode == 'predict':
            return pack_predictions(logits, data_samples)
        raise ValueError(f'Invalid mode "{mode}": use tensor, loss or '
                         'predict.')
