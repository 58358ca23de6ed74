"""Write the split permutations of a dataset as the release does.

    python tools/dataset_converters/make_splits.py NUM_SAMPLES OUT_CSV

The reference recipe: NumPy's legacy RNG seeded with 19980427, then
``np.random.permutation(N)`` drawn 20 times in a row; column ``group_s`` is
the permutation of run seed ``s`` (train = first 60%, val = next 20%, test =
the rest). Datasets read ``metadata/{NAME}_indices.csv`` when it exists and
regenerate the same numbers when it does not.
"""
import argparse
import os
import os.path as osp

from mstkd.datasets.splits import (NUM_GROUPS, REFERENCE_SPLIT_SEED,
                                   make_permutations, write_permutation_csv)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('num_samples', type=int,
                        help='N, the size of the whole dataset')
    parser.add_argument('out', help='output CSV, e.g. '
                        'metadata/RAVDESS_indices.csv')
    parser.add_argument('--groups', type=int, default=NUM_GROUPS)
    parser.add_argument('--seed', type=int, default=REFERENCE_SPLIT_SEED)
    args = parser.parse_args()
    os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
    write_permutation_csv(
        args.out, make_permutations(args.num_samples, args.groups, args.seed))
    print(f'wrote {args.groups} permutations of range({args.num_samples}) '
          f'to {args.out}')


if __name__ == '__main__':
    main()
