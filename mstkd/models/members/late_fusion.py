from typing import Dict, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F

from mstkd.registry import MODELS


class Concat(nn.Module):
    """Concatenation of the encoders' features, as a module so that its
    output (the fused feature) has a layer path a MaskNet can point at."""

    def forward(self, features: Sequence[torch.Tensor]) -> torch.Tensor:
        return torch.cat(list(features), dim=1)


class FusionHead(nn.Module):
    """``concat`` -> ``fc1`` -> ReLU -> ... -> ``fc{n+1}`` (logits).

    ``hidden_act=False`` drops the ReLUs between the fc layers (the public
    release's AV-MNIST fusion MLP, ``fc1 -> fc2`` with no activation).
    """

    def __init__(self, in_channels: int, hidden_channels: Sequence[int],
                 num_classes: int, hidden_act: bool = True):
        super().__init__()
        self.hidden_act = hidden_act
        self.concat = Concat()
        self.num_fcs = len(hidden_channels) + 1
        dims = (in_channels, *hidden_channels, num_classes)
        for i in range(self.num_fcs):
            self.add_module(f'fc{i + 1}', nn.Linear(dims[i], dims[i + 1]))

    def forward(self, features: Sequence[torch.Tensor]) -> torch.Tensor:
        x = self.concat(features)
        for i in range(1, self.num_fcs + 1):
            x = getattr(self, f'fc{i}')(x)
            if i < self.num_fcs and self.hidden_act:
                x = F.relu(x)
        return x


@MODELS.register_module()
class LateFusionNet(nn.Module):
    """Late fusion: one headless encoder per modality, concatenated, then an
    MLP (paper Table 5: ``Inet_woHead (.) Anet_woHead + MLP``).

    Layer paths: ``encoders.<modality>.<layer>`` inside each encoder,
    ``fusion.concat`` (the fused feature), ``fusion.fc1``, ``fusion.fc2``, ...

    Args:
        encoders (dict): Modality name -> config of a member built with
            ``with_head=False`` (it must expose ``out_channels``).
        hidden_channels (Sequence[int]): Widths of the hidden fc layers.
        num_classes (int): Classes.
        hidden_act (bool): ReLU between the fc layers. Defaults to True;
            False reproduces the release's AV-MNIST fusion MLP.
    """

    def __init__(self,
                 encoders: Dict[str, dict],
                 hidden_channels: Sequence[int] = (298, ),
                 num_classes: int = 10,
                 hidden_act: bool = True):
        super().__init__()
        self.encoders = nn.ModuleDict()
        for modality, cfg in encoders.items():
            cfg = dict(cfg, modality=modality, with_head=False)
            self.encoders[modality] = MODELS.build(cfg)
        self.modalities = tuple(self.encoders.keys())
        in_channels = sum(e.out_channels for e in self.encoders.values())
        self.fusion = FusionHead(in_channels, hidden_channels, num_classes,
                                 hidden_act)
        self.num_classes = num_classes

    def forward(self, inputs: Dict[str, torch.Tensor]) -> torch.Tensor:
        return self.fusion([enc(inputs) for enc in self.encoders.values()])
