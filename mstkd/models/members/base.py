"""What every member network shares: picking its modality from the inputs."""
from typing import Dict, Union

import torch
import torch.nn as nn

Inputs = Union[torch.Tensor, Dict[str, torch.Tensor]]


class UnimodalMember(nn.Module):
    """A network that reads one modality.

    ``forward`` accepts the modality's tensor or the whole ``inputs`` dict of a
    batch (then it takes ``inputs[self.modality]``), so the same member works
    alone and inside a distillation algorithm. Layers are named attributes
    (``conv1``, ``fc1``, ...) so that a config can point a MaskNet at them.

    Args:
        modality (str): The key of this member's input in a batch.
        num_classes (int): Classes of the head.
        with_head (bool): False drops the classifier; ``forward`` then returns
            the feature of ``out_channels`` dimensions (``*_woHead`` nets of
            the paper's Table 5).
    """

    modalities: tuple

    def __init__(self, modality: str, num_classes: int, with_head: bool):
        super().__init__()
        self.modality = modality
        self.modalities = (modality, )
        self.num_classes = num_classes
        self.with_head = with_head

    def pick(self, inputs: Inputs) -> torch.Tensor:
        if isinstance(inputs, dict):
            if self.modality not in inputs:
                raise KeyError(f'{type(self).__name__} reads modality '
                               f'"{self.modality}" but the batch holds '
                               f'{sorted(inputs)}.')
            return inputs[self.modality]
        return inputs
