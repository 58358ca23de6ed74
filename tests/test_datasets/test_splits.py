import numpy as np
import pytest

from mstkd.datasets.splits import (get_permutation, make_permutations,
                                   read_permutation_csv, split_indices,
                                   write_permutation_csv)


def test_permutations_match_the_release_recipe():
    # The release: np.random.seed(19980427), then np.random.permutation(N)
    # 20 times in a row with the global legacy RNG.
    state = np.random.get_state()
    try:
        np.random.seed(19980427)
        expected = [np.random.permutation(1440) for _ in range(20)]
    finally:
        np.random.set_state(state)
    perms = make_permutations(1440)
    assert len(perms) == 20
    for a, b in zip(perms, expected):
        np.testing.assert_array_equal(a, b)
    # deterministic, and a group does not depend on how many are drawn
    np.testing.assert_array_equal(get_permutation(1440, 3), expected[3])
    assert not np.array_equal(perms[0], perms[1])


def test_split_sizes_and_disjointness():
    perm = make_permutations(1449, 1)[0]
    parts = {s: split_indices(perm, s) for s in ('train', 'val', 'test')}
    assert [len(parts[s]) for s in ('train', 'val', 'test')] == [869, 290,
                                                                 290]
    joined = np.concatenate(list(parts.values()))
    np.testing.assert_array_equal(np.sort(joined), np.arange(1449))
    np.testing.assert_array_equal(parts['train'], perm[:869])
    with pytest.raises(ValueError, match='split must be one of'):
        split_indices(perm, 'dev')


def test_csv_roundtrip_and_errors(tmp_path):
    perms = make_permutations(50, 20)
    path = str(tmp_path / 'X_indices.csv')
    write_permutation_csv(path, perms)
    header = open(path).readline().strip().split(',')
    assert header == [f'group_{i}' for i in range(20)]
    np.testing.assert_array_equal(read_permutation_csv(path, 7, 50), perms[7])
    np.testing.assert_array_equal(get_permutation(50, 7, path), perms[7])
    with pytest.raises(ValueError, match='not a permutation of range'):
        read_permutation_csv(path, 0, 51)
    write_permutation_csv(path, perms[:2])
    with pytest.raises(ValueError, match='no column "group_5"'):
        read_permutation_csv(path, 5, 50)
    with pytest.raises(ValueError, match='group_0 .. group_19'):
        get_permutation(50, 20)


def test_make_splits_tool(tmp_path):
    from tests.helpers import run_tool
    out = str(tmp_path / 'metadata' / 'X_indices.csv')
    res = run_tool(['tools/dataset_converters/make_splits.py', '30', out])
    assert res.returncode == 0, res.stderr
    for group in (0, 19):
        np.testing.assert_array_equal(read_permutation_csv(out, group, 30),
                                      make_permutations(30, 20)[group])
