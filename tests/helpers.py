"""Shared test utilities: tiny data in the exact AV-Digits layout, and
running the command-line tools as a user would."""
import os
import os.path as osp
import subprocess
import sys
from typing import List, Optional

import numpy as np

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
LOADERS = ('train_dataloader', 'val_dataloader', 'test_dataloader')


def make_tiny_avdigits(path: str, per_class: int = 20,
                       clips_per_class: int = 2, clip_len: int = 2000,
                       seed: int = 0) -> str:
    """Write an ``avdigits.npz`` with the real keys, dtypes and layout.

    Images carry a class-dependent pattern (so models can learn a little);
    clips are noise with a class-dependent tone. Pools 0/1/2 hold
    ``clips_per_class`` clips of every digit each.
    """
    rng = np.random.RandomState(seed)
    labels = np.repeat(np.arange(10), per_class).astype(np.int64)
    images = (rng.rand(len(labels), 28, 28) * 80).astype(np.uint8)
    for i, y in enumerate(labels):
        images[i, 4 + 2 * y:8 + 2 * y, 4:24] = 255
    clip_labels = np.tile(np.repeat(np.arange(10), clips_per_class), 3)
    clip_pool = np.repeat(np.arange(3), 10 * clips_per_class).astype(np.uint8)
    t = np.arange(clip_len) / 8000.0
    clips = np.stack([
        3000 * np.sin(2 * np.pi * (300 + 150 * y) * t) +
        1000 * rng.randn(clip_len) for y in clip_labels
    ]).astype(np.int16)
    np.savez_compressed(
        path, images=images, labels=labels, clips=clips,
        clip_labels=clip_labels.astype(np.int64), clip_pool=clip_pool,
        clip_voice=(clip_pool * 2).astype(np.int16),
        clip_snr_db=np.full(len(clips), 10, np.float32),
        voices=np.array(['v0', 'v1', 'v2', 'v3', 'v4', 'v5']),
        sample_rate=np.int64(8000), version=np.array('tiny'))
    return path


def data_options(npz: str, size: int = 64) -> List[str]:
    """``--cfg-options`` pointing every dataloader at a tiny file with
    ``size x size`` spectrograms."""
    opts = []
    for loader in LOADERS:
        opts += [f'{loader}.dataset.data_file={npz}',
                 f'{loader}.dataset.n_mels={size}',
                 f'{loader}.dataset.n_frames={size}',
                 f'{loader}.batch_size=32']
    return opts


def run_tool(args: List[str], timeout: int = 600,
             env: Optional[dict] = None) -> subprocess.CompletedProcess:
    """Run ``python tools/...`` (or a shell script) from the repo root."""
    full_env = dict(os.environ)
    full_env['PYTHONPATH'] = REPO + os.pathsep + full_env.get('PYTHONPATH', '')
    full_env.setdefault('OMP_NUM_THREADS', '1')
    if env:
        full_env.update(env)
    if args[0].endswith('.py'):
        args = [sys.executable] + args
    return subprocess.run(args, cwd=REPO, env=full_env, capture_output=True,
                          text=True, timeout=timeout)
