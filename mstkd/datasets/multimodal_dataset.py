"""A base class for paired multimodal classification datasets.

Eager modalities are float32 tensors ``[N_split, ...]`` held in memory (what
AV-Digits, AV-MNIST and CrisisMMD use). Lazy modalities are a
:class:`~mstkd.datasets.sources.LazySource` wrapped in a
:class:`~mstkd.datasets.sources.SplitView` (see
:mod:`mstkd.datasets.sources`).
"""
import copy
from typing import Dict, List, Optional, Sequence, Union

import numpy as np
import torch
from torch.utils.data import Dataset

from mstkd.utils.errors import UserInputError
from .sources import LazySource, SplitView
from .splits import get_permutation, split_indices

ModalityData = Union[torch.Tensor, SplitView]


class MultiModalClsDataset(Dataset):
    """Paired multimodal classification data under the benchmark protocol.

    A subclass loads the whole set (``load_modalities``): per modality name
    either one float32 tensor ``[N, ...]``, already normalised, or a
    :class:`LazySource` that serves (and normalises) one item at a time; and
    the labels ``[N]``. This base class applies the split protocol
    (permutation group = run seed, 60/20/20) and serves items as
    ``dict(inputs={modality: tensor}, data_samples=dict(gt_label=...,
    sample_idx=...))``, which mmengine's ``default_collate`` stacks into
    batches. ``self.data[m]`` is the split's tensor (eager) or a
    :class:`SplitView` (lazy).

    Args:
        split (str): 'train', 'val' or 'test'.
        seed (int): The run seed ``s``; selects permutation ``group_s``.
        modalities (Sequence[str], optional): Modalities to serve; defaults to
            all of ``METAINFO['modalities']``. A unimodal model's config may
            ask for its modality only.
        indices_file (str, optional): ``metadata/{NAME}_indices.csv``; used
            when it exists, else the permutation is regenerated.
        ratios (Sequence[float]): train/val/test fractions.
        metainfo (dict, optional): Overrides of ``METAINFO``.
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
        try:
            perm = get_permutation(n, seed, indices_file)
        except ValueError as err:  # a bad split file or run seed
            raise UserInputError(f'{type(self).__name__} ({n} samples): '
                                 f'{err}') from err
        self.indices = split_indices(perm, split, self.ratios)
        self.data = self.select(data, labels, self.indices)
        self.labels = torch.as_tensor(np.asarray(labels)[self.indices],
                                      dtype=torch.long)

    # -- hooks for subclasses -------------------------------------------
    def load_modalities(self):
        """Return ``(dict modality -> tensor [N, ...] | LazySource,
        labels [N])``."""
        raise NotImplementedError

    def select(self, data: Dict[str, Union[torch.Tensor, LazySource]], labels,
               indices: np.ndarray) -> Dict[str, ModalityData]:
        """Rows of the split: tensors are indexed, lazy sources wrapped in a
        :class:`SplitView`. Subclasses may pair modalities per split."""
        index = torch.as_tensor(indices)
        out = {}
        for m in self.modalities:
            if isinstance(data[m], LazySource):
                out[m] = SplitView(data[m], indices)
            else:
                out[m] = data[m][index]
        return out

    def sample_extras(self, idx: int) -> dict:
        """Extra ``data_samples`` fields of item ``idx`` (none by default)."""
        return {}

    # -- mmengine / torch dataset API ------------------------------------
    @property
    def metainfo(self) -> dict:
        return copy.deepcopy(self._metainfo)

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, idx: int) -> dict:
        data_samples = dict(gt_label=self.labels[idx],
                            sample_idx=int(self.indices[idx]))
        data_samples.update(self.sample_extras(idx))
        return dict(inputs={m: self.data[m][idx]
                            for m in self.modalities},
                    data_samples=data_samples)

    def class_counts(self) -> List[int]:
        num_classes = len(self._metainfo['classes'])
        return torch.bincount(self.labels, minlength=num_classes).tolist()
