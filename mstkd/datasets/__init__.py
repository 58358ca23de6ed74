from .avdigits import AVDigitsDataset
from .base import MultiModalClsDataset, minmax_per_sample
from .splits import get_permutation, make_permutations, split_indices

__all__ = [
    'AVDigitsDataset', 'MultiModalClsDataset', 'minmax_per_sample',
    'get_permutation', 'make_permutations', 'split_indices'
]
