import pytest
import torch

from mstkd.utils.compat import setup_safe_checkpoint_loading
from tests.helpers import make_tiny_avdigits

# Tests torch.load mmengine checkpoints directly: allowlist their types now
# (mstkd otherwise does it when mmengine.runner.checkpoint is imported).
setup_safe_checkpoint_loading()


@pytest.fixture(scope='session')
def tiny_avdigits(tmp_path_factory):
    """A small AV-Digits file (200 images, 60 clips) in the real layout."""
    return make_tiny_avdigits(
        str(tmp_path_factory.mktemp('avdigits') / 'avdigits.npz'))


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)
