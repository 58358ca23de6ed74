import numpy as np
import pytest

from mstkd.apis import find_best_checkpoint, format_table, summarize
from mstkd.apis.seeds import parse_seeds


def test_summarize_and_table():
    runs = [dict(OA=0.5, AA=0.4), dict(OA=0.7, AA=0.6), dict(OA=0.6, AA=0.5)]
    s = summarize(runs)
    assert s['OA'][0] == pytest.approx(0.6)
    assert s['OA'][1] == pytest.approx(np.std([0.5, 0.7, 0.6], ddof=1))
    assert s['OA'][2] == 3
    assert summarize(runs[:1])['AA'] == (0.4, 0.0, 1)
    table = format_table({'m': s})
    assert table.splitlines()[2] == '| m | 0.6000 ± 0.1000 | 0.5000 ± 0.1000 | 3 |'


def test_parse_seeds_and_best_checkpoint(tmp_path):
    assert parse_seeds('0-4') == [0, 1, 2, 3, 4]
    assert parse_seeds('3,1') == [3, 1]
    with pytest.raises(FileNotFoundError, match='best_CE'):
        find_best_checkpoint(str(tmp_path))
    (tmp_path / 'best_CE_epoch_7.pth').write_bytes(b'x')
    assert find_best_checkpoint(str(tmp_path)).endswith('best_CE_epoch_7.pth')
