"""``tools/train.py`` that stops at a chosen point and waits to be killed.

The tests run it as a subprocess and send it SIGKILL from outside (a real
``kill -9``: no cleanup, no exception handler runs) once it has written the
marker file. Nothing of mstkd is changed; the wait is patched in here:

- ``KILL_AT_ITER=STAGE:EPOCH:BATCH``: before training batch ``BATCH``
  (1-based, of the epoch) of epoch ``EPOCH`` (1-based, of the whole run),
  which must lie in stage ``STAGE``;
- ``KILL_AT_RENAME=NAME``: in a checkpoint save, after the temporary file
  is written in full and before it is renamed to ``NAME``.

``KILL_MARKER`` is the marker file; it holds where the process waits.

Usage: ``python tests/test_engine/killable_train.py CONFIG [train.py args]``
"""
import json
import os
import os.path as osp
import runpy
import sys
import time

from mmengine.runner import Runner

MARKER = os.environ['KILL_MARKER']
AT_ITER = os.environ.get('KILL_AT_ITER')
AT_RENAME = os.environ.get('KILL_AT_RENAME')


def wait_for_the_kill(**where):
    with open(MARKER + '.tmp', 'w') as f:
        json.dump(where, f)
    os.replace(MARKER + '.tmp', MARKER)
    while True:
        time.sleep(1)


if AT_ITER:
    stage, epoch, batch = AT_ITER.split(':')
    call_hook = Runner.call_hook

    def waiting_call_hook(self, fn_name, **kwargs):
        loop = self._train_loop
        if fn_name == 'before_train_iter' and \
                self.epoch + 1 == int(epoch) and \
                kwargs['batch_idx'] + 1 == int(batch):
            assert getattr(loop, 'stage', None) == stage, loop.stage
            wait_for_the_kill(stage=loop.stage, epoch=self.epoch + 1,
                              batch=kwargs['batch_idx'] + 1, iter=self.iter)
        return call_hook(self, fn_name, **kwargs)

    Runner.call_hook = waiting_call_hook

if AT_RENAME:
    replace = os.replace

    def waiting_replace(src, dst, *args, **kwargs):
        if osp.basename(str(dst)) == AT_RENAME:
            wait_for_the_kill(src=str(src), dst=str(dst))
        return replace(src, dst, *args, **kwargs)

    os.replace = waiting_replace

sys.argv = ['tools/train.py'] + sys.argv[1:]
runpy.run_path('tools/train.py', run_name='__main__')
