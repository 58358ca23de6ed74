from typing import Dict, List, Optional, Union

import torch
import torch.nn.functional as F
from mmengine.model import BaseModel

from mstkd.registry import MODELS

Inputs = Union[torch.Tensor, Dict[str, torch.Tensor]]


def pack_predictions(logits: torch.Tensor,
                     data_samples: Optional[dict]) -> List[dict]:
    """One dict per sample, the format :class:`ClsMetric` consumes."""
    logits = logits.detach()
    labels = logits.argmax(dim=1)
    gt = data_samples.get('gt_label') if data_samples else None
    out = []
    for i in range(logits.shape[0]):
        item = dict(logits=logits[i], pred_label=labels[i])
        if gt is not None:
            item['gt_label'] = gt[i]
        out.append(item)
    return out


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
