import pytest
import torch

from tests.helpers import make_tiny_avdigits


@pytest.fixture(scope='session')
def tiny_avdigits(tmp_path_factory):
    """A small AV-Digits file (200 images, 60 clips) in the real layout."""
    return make_tiny_avdigits(
        str(tmp_path_factory.mktemp('avdigits') / 'avdigits.npz'))


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)
