"""The split protocol of the MST-Distill benchmarks (../DATA_FORMATS.md).

Every dataset is loaded whole and split by a permutation of ``range(N)``. The
reference release stores 20 permutations in ``metadata/{NAME}_indices.csv``
(columns ``group_0`` .. ``group_19``) and generates them by seeding NumPy's
legacy RNG with 19980427 and drawing ``np.random.permutation(N)`` 20 times in a
row. Run seed ``s`` uses ``group_s``: train = the first ``int(0.6 N)``, val =
``[int(0.6 N), int(0.8 N))``, test = the rest.
"""
import csv
import os.path as osp
from typing import List, Optional, Sequence

import numpy as np

REFERENCE_SPLIT_SEED = 19980427
NUM_GROUPS = 20
SPLITS = ('train', 'val', 'test')


def make_permutations(num_samples: int,
                      num_groups: int = NUM_GROUPS,
                      seed: int = REFERENCE_SPLIT_SEED) -> List[np.ndarray]:
    """Draw ``num_groups`` successive permutations like the release does.

    ``np.random.seed(seed)`` followed by ``np.random.permutation`` calls gives
    the same numbers as a ``RandomState(seed)``; we use the latter so that the
    global NumPy state is left alone.
    """
    rng = np.random.RandomState(seed)
    return [rng.permutation(num_samples) for _ in range(num_groups)]


def write_permutation_csv(path: str, perms: Sequence[np.ndarray]) -> None:
    """Write permutations as ``group_0 .. group_{K-1}`` columns."""
    with open(path, 'w', newline='') as f:
        writer = csv.writer(f)
        writer.writerow([f'group_{i}' for i in range(len(perms))])
        writer.writerows(zip(*[p.tolist() for p in perms]))


def read_permutation_csv(path: str, group: int, num_samples: int) -> np.ndarray:
    """Read column ``group_{group}`` and check it is a permutation."""
    column = f'group_{group}'
    with open(path, newline='') as f:
        reader = csv.DictReader(f)
        if reader.fieldnames is None or column not in reader.fieldnames:
            raise ValueError(
                f'{path} has no column "{column}" (columns: '
                f'{reader.fieldnames}). Expected the release layout: '
                'columns group_0 .. group_19, one permutation of range(N) '
                'each; regenerate it with '
                'tools/dataset_converters/make_splits.py.')
        perm = np.array([int(row[column]) for row in reader], dtype=np.int64)
    if perm.shape[0] != num_samples or not np.array_equal(
            np.sort(perm), np.arange(num_samples)):
        raise ValueError(
            f'{path}:{column} is not a permutation of range({num_samples}) '
            f'(it has {perm.shape[0]} entries). The split file does not '
            'belong to this dataset; delete it or regenerate it with '
            'tools/dataset_converters/make_splits.py.')
    return perm


def get_permutation(num_samples: int,
                    group: int,
                    indices_file: Optional[str] = None,
                    seed: int = REFERENCE_SPLIT_SEED) -> np.ndarray:
    """The permutation of run seed ``group``: from the CSV when it exists,
    otherwise regenerated exactly as the release does."""
    if not 0 <= group < NUM_GROUPS:
        raise ValueError(f'run seed {group} has no split group: the protocol '
                         f'defines group_0 .. group_{NUM_GROUPS - 1}.')
    if indices_file is not None and osp.isfile(indices_file):
        return read_permutation_csv(indices_file, group, num_samples)
    return make_permutations(num_samples, group + 1, seed)[group]


def split_indices(perm: np.ndarray,
                  split: str,
                  ratios: Sequence[float] = (0.6, 0.2, 0.2)) -> np.ndarray:
    """The indices of ``split`` under the 60/20/20 protocol."""
    if split not in SPLITS:
        raise ValueError(f'split must be one of {SPLITS}, got "{split}".')
    n = len(perm)
    train_end = int(ratios[0] * n)
    val_end = int(round(ratios[0] + ratios[1], 10) * n)
    bounds = dict(train=(0, train_end), val=(train_end, val_end),
                  test=(val_end, n))
    lo, hi = bounds[split]
    return np.asarray(perm[lo:hi], dtype=np.int64)
