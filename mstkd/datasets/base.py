"""A base class for paired multimodal classification datasets."""
import copy
from typing import Dict, List, Optional, Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from .splits import get_permutation, split_indices


def minmax_per_sample(x: torch.Tensor, eps: float = 1e-12) -> torch.Tensor:
    """Min-max normalise every sample (dim 0) to [0, 1], in float32.

    Works in place on float32 input to avoid whole-set temporaries.
    """
    x = (x.float() if x.dtype != torch.float32 else x).contiguous()
    flat = x.view(x.shape[0], -1)
    lo = flat.min(dim=1, keepdim=True).values
    hi = flat.max(dim=1, keepdim=True).values
    flat.sub_(lo).div_((hi - lo).clamp_min(eps))
    return x


class MultiModalClsDataset(Dataset):
    """Paired multimodal classification data under the benchmark protocol.

    A subclass loads the whole set (``load_modalities``) as one float32 tensor
    per modality name, already normalised, and the labels. This base class
    applies the split protocol (permutation group = run seed, 60/20/20) and
    serves items as ``dict(inputs={modality: tensor}, data_samples=dict(
    gt_label=..., sample_idx=...))``, which mmengine's ``default_collate``
    stacks into batches.

    Args:
        split (str): 'train', 'val' or 'test'.
        seed (int): The run seed ``s``; selects permutation ``group_s``.
        modalities (Sequence[str], optional): Modalities to serve; defaults to
            all of ``METAINFO['modalities']``. A unimodal model's config may
            ask for its modality only.
        indices_file (str, optional): ``metadata/{NAME}_indices.csv``; used
            when it exists, else the permutation is regenerated.
        ratios (Sequence[float]): train/val/test fractions.
    """

    METAINFO: dict = dict(classes=(), modalities=())

    def __init__(self,
                 split: str = 'train',
                 seed: int = 0,
                 modalities: Optional[Sequence[str]] = None,
                 indices_file: Optional[str] = None,
                 ratios: Sequence[float] = (0.6, 0.2, 0.2),
                 metainfo: Optional[dict] = None):
        self.split = split
        self.seed = seed
        self._metainfo = copy.deepcopy(self.METAINFO)
        if metainfo:
            self._metainfo.update(metainfo)
        available = tuple(self._metainfo['modalities'])
        self.modalities = tuple(modalities) if modalities else available
        unknown = [m for m in self.modalities if m not in available]
        if unknown:
            raise ValueError(f'{type(self).__name__} has no modality '
                             f'{unknown}; available: {list(available)}.')
        self.indices_file = indices_file
        self.ratios = tuple(ratios)

        data, labels = self.load_modalities()
        n = len(labels)
        perm = get_permutation(n, seed, indices_file)
        self.indices = split_indices(perm, split, self.ratios)
        self.data = self.select(data, labels, self.indices)
        self.labels = torch.as_tensor(np.asarray(labels)[self.indices],
                                      dtype=torch.long)

    # -- hooks for subclasses -------------------------------------------
    def load_modalities(self):
        """Return ``(dict modality -> tensor [N, ...], labels [N])``."""
        raise NotImplementedError

    def select(self, data: Dict[str, torch.Tensor], labels,
               indices: np.ndarray) -> Dict[str, torch.Tensor]:
        """Rows of the split. Subclasses may pair modalities per split."""
        index = torch.as_tensor(indices)
        return {m: data[m][index] for m in self.modalities}

    # -- mmengine / torch dataset API ------------------------------------
    @property
    def metainfo(self) -> dict:
        return copy.deepcopy(self._metainfo)

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, idx: int) -> dict:
        return dict(
            inputs={m: self.data[m][idx] for m in self.modalities},
            data_samples=dict(gt_label=self.labels[idx],
                              sample_idx=int(self.indices[idx])))

    def class_counts(self) -> List[int]:
        num_classes = len(self._metainfo['classes'])
        return torch.bincount(self.labels, minlength=num_classes).tolist()
