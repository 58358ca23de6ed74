"""--amp on a CPU: bfloat16 autocast through CPUAutocastOptimWrapper."""
import importlib.util

import pytest
import torch
import torch.nn as nn
from mmengine.config import Config

from mstkd.engine.optimizers import (CPUAutocastOptimWrapper,
                                     cpu_bf16_supported)
from mstkd.utils.errors import UserInputError
from tests.helpers import data_options, run_tool


def _train_tool():
    spec = importlib.util.spec_from_file_location('train_tool',
                                                  'tools/train.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_wrapper_runs_the_forward_in_bf16_and_keeps_fp32_weights():
    torch.manual_seed(0)
    net = nn.Linear(8, 3)
    wrapper = CPUAutocastOptimWrapper(
        optimizer=torch.optim.SGD(net.parameters(), lr=0.1))
    x = torch.randn(4, 8)
    with wrapper.optim_context(net):
        out = net(x)
        loss = out.float().pow(2).mean()
    assert out.dtype == torch.bfloat16  # the matmul ran in bfloat16
    before = net.weight.detach().clone()
    wrapper.update_params(loss)
    assert net.weight.dtype == torch.float32
    assert net.weight.grad is None or net.weight.grad.dtype == torch.float32
    assert not torch.equal(before, net.weight)
    # outside the context nothing is autocast
    assert net(x).dtype == torch.float32
    with pytest.raises(UserInputError, match='bfloat16'):
        CPUAutocastOptimWrapper(
            optimizer=torch.optim.SGD(net.parameters(), lr=0.1),
            dtype='float16')


def test_amp_flag_converts_every_stage_wrapper(monkeypatch):
    train = _train_tool()
    cfg = Config.fromfile('configs/mst/mst_avdigits_image.py')
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: False)
    import mstkd.engine.optimizers as optimizers
    monkeypatch.setattr(optimizers, 'cpu_bf16_supported', lambda: True)
    train.enable_amp(cfg)
    types = {s: w['type'] for s, w in cfg.optim_wrapper.items()
             if isinstance(w, dict)}
    assert types == dict(s1='CPUAutocastOptimWrapper',
                         s2='CPUAutocastOptimWrapper',
                         s3='CPUAutocastOptimWrapper')
    monkeypatch.setattr(optimizers, 'cpu_bf16_supported', lambda: False)
    with pytest.raises(UserInputError, match='no native bfloat16'):
        train.enable_amp(Config.fromfile('configs/members/avdigits_image.py'))


@pytest.mark.skipif(torch.cuda.is_available() or not cpu_bf16_supported(),
                    reason='needs a CPU with native bfloat16 and no CUDA')
def test_amp_trains_a_member_on_the_cpu(tiny_avdigits, tmp_path):
    res = run_tool(['tools/train.py', 'configs/members/avdigits_image.py',
                    '--amp', '--work-dir', str(tmp_path), '--cfg-options',
                    'train_cfg.max_epochs=1', *data_options(tiny_avdigits)])
    assert res.returncode == 0, res.stderr[-2000:]
    log = res.stdout + res.stderr
    assert 'bfloat16 autocast on the CPU' in log
    assert (tmp_path / 'epoch_1.pth').is_file()
