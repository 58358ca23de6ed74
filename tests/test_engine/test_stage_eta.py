"""StageETAHook: the eta counts every stage ahead at its own speed."""
import logging
from collections import OrderedDict

import pytest
from mmengine.logging import MessageHub

from mstkd.engine.hooks import StageETAHook
from mstkd.engine.loops.multi_stage_loop import MultiStageTrainLoop


class FakeLoop:
    stage_at = MultiStageTrainLoop.stage_at

    def __init__(self):
        self.stage_epochs = OrderedDict(s1=2, s2=1, s3=3)
        self.dataloader = [None] * 10  # 10 iterations per epoch
        self.epoch = 0
        self.stage = 's1'


class FakeRunner:
    def __init__(self):
        self._train_loop = self.train_loop = FakeLoop()
        self.message_hub = MessageHub.get_instance('stage_eta_test')
        self.iter = 0
        self.logger = logging.getLogger('stage_eta_test')


def step(hook, runner, seconds):
    runner.message_hub.update_scalar('train/time', seconds)
    hook.after_train_iter(runner, 0)
    runner.iter += 1
    runner.train_loop.epoch = runner.iter // 10
    runner.train_loop.stage = runner.train_loop.stage_at(
        runner.train_loop.epoch)[0] if runner.iter < 60 else 's3'
    return runner.message_hub.get_info('eta')


def test_eta_per_stage(caplog):
    hook, runner = StageETAHook(warmup=2), FakeRunner()
    for _ in range(5):  # S1 at 0.1 s/iter
        eta = step(hook, runner, 0.1)
    # 15 S1 iterations left, S2 (10) and S3 (30) guessed at the S1 speed
    assert eta == pytest.approx(0.1 * (15 + 10 + 30))
    with caplog.at_level(logging.INFO, logger='stage_eta_test'):
        for _ in range(15):
            step(hook, runner, 0.1)
        for _ in range(4):  # S2 at 1 s/iter; S3 guessed at it
            eta = step(hook, runner, 1.0)
    assert eta == pytest.approx(1.0 * (6 + 30))
    assert 'stage(s) s3 not run yet, estimated at the speed of s2' in \
        caplog.text
    for _ in range(6):
        step(hook, runner, 1.0)
    for _ in range(3):  # S3 at 0.01 s/iter, measured
        eta = step(hook, runner, 0.01)
    assert eta == pytest.approx(0.01 * 27)
    # mmengine's eta here (the mean over all 33 iterations so far, times
    # the 27 left) would be 27 * (20 * 0.1 + 10 * 1.0 + 3 * 0.01) / 33
    assert 27 * (2 + 10 + 0.03) / 33 > 30 * eta


def test_warmup_is_left_out_and_no_stage_no_eta():
    hook = StageETAHook(warmup=2)
    hook.times['s1'] = [5.0, 5.0, 1.0, 1.0]
    assert hook.mean_time('s1') == 1.0
    hook.times['s2'] = [3.0]
    assert hook.mean_time('s2') == 3.0  # too few to skip any
    assert hook.mean_time('s3') is None
