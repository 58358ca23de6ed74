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



def _scope_restored():
    from mmengine.registry import DefaultScope
    saved = DefaultScope._instance_dict.copy()
    yield
    DefaultScope._instance_dict.clear()
    DefaultScope._instance_dict.update(saved)


# Each test (and each module, for its module-scoped fixtures) sees the
# default registry scope it started with: one that sets a scope (a Runner
# with default_scope='mmengine', mmseg's init_default_scope('mmseg')) no
# longer changes where a later DATASETS.build(dict(type='AVMNISTDataset'))
# looks.
_default_scope_per_module = pytest.fixture(scope='module', autouse=True)(
    _scope_restored)
_default_scope_per_test = pytest.fixture(autouse=True)(_scope_restored)
