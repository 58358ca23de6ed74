"""Shared test utilities: tiny data in the exact AV-Digits layout, running
the command-line tools as a user would, and a toy two-branch network."""
import os
import os.path as osp
import subprocess
import sys
from collections import OrderedDict
from contextlib import contextmanager
from typing import List, Optional

import numpy as np
import torch
import torch.nn as nn

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


def tiny_mst_config(npz: str, work_dir: str, name: str, s1: int = 1,
                    s2: int = 1, s3: int = 1, resume: bool = False):
    """The AV-Digits image MST config on a tiny file: 64x64 spectrograms,
    batch 32, light MaskNets, ``s1/s2/s3`` epochs, quiet logger."""
    from mmengine.config import Config

    from mstkd.utils import register_all_modules
    register_all_modules(init_default_scope=False)
    cfg = Config.fromfile(osp.join(REPO, 'configs/mst/mst_avdigits_image.py'))
    cfg.merge_from_dict(dict(kv.split('=', 1) for kv in data_options(npz)))
    for loader in LOADERS:  # (merge_from_dict keeps strings: ints here)
        cfg[loader].dataset.n_mels = 64
        cfg[loader].dataset.n_frames = 64
        cfg[loader].batch_size = 32
    cfg.train_cfg.update(s1_epochs=s1, s2_epochs=s2, s3_epochs=s3)
    cfg.model.masknet.projector = 'light'
    cfg.work_dir = work_dir
    cfg.experiment_name = name
    cfg.resume = resume
    cfg.default_hooks.logger.interval = 100
    return cfg


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


@contextmanager
def masked(model, pairs):
    """Reference for the MaskNet hooks: plain forward hooks replacing each
    layer's output by ``masknet(output)`` (several MaskNets on one layer
    apply in order). ``pairs``: ``{path: masknet}`` or ``[(path, net)]``."""
    from mstkd.models.task_modules import resolve_layer
    pairs = list(pairs.items()) if isinstance(pairs, dict) else list(pairs)
    handles = [resolve_layer(model, path).register_forward_hook(
        lambda module, args, out, net=net: net(out)) for path, net in pairs]
    try:
        yield handles
    finally:
        for handle in handles:
            handle.remove()


class ToyFusion(nn.Module):
    """Two-branch late-fusion net: image CNN (+) audio MLP -> fusion MLP."""

    def __init__(self, num_classes: int = 5) -> None:
        super().__init__()
        self.image_trunk = nn.Sequential(
            OrderedDict(
                conv1=nn.Conv2d(1, 4, 3, padding=1),
                relu1=nn.ReLU(),
                conv2=nn.Conv2d(4, 6, 3, padding=1),
                relu2=nn.ReLU(),
                pool=nn.AdaptiveAvgPool2d(2),
                flat=nn.Flatten()))
        self.audio = nn.Linear(10, 8)
        self.fusion = nn.Sequential(
            OrderedDict(
                fc1=nn.Linear(6 * 4 + 8, 12),
                act=nn.ReLU(),
                drop=nn.Dropout(0.5),
                fc2=nn.Linear(12, num_classes)))

    def forward(self, image: torch.Tensor,
                audio: torch.Tensor) -> torch.Tensor:
        feat = torch.cat([self.image_trunk(image), self.audio(audio)], 1)
        return self.fusion(feat)


def toy_inputs(b: int = 3) -> dict:
    """A batch of :class:`ToyFusion` inputs."""
    return dict(image=torch.randn(b, 1, 6, 6), audio=torch.randn(b, 10))


def make_toy_fusion() -> nn.Module:
    """A :class:`ToyFusion` with seed-0 weights, in eval mode."""
    torch.manual_seed(0)
    return ToyFusion().eval()


def direct_oa(config: str, ckpt: str, options=(), student: Optional[str]
              = None, batch_size: int = 16) -> float:
    """Test OA of a checkpoint by a plain forward pass over the test split.

    ``options`` are ``--cfg-options`` strings (``key=value``) as given to
    the tools. The whole model is loaded strictly from the checkpoint
    (lazily built parts it lacks are skipped by the distiller; the weights
    a slim checkpoint leaves to earlier stage-end files are read from
    there; a best checkpoint may lack exactly the parts its
    ``meta['partial_state']`` lists as dropped); for a
    multi-member model (MST, baselines) the ``student`` member (default:
    the model's ``target``) is run alone, for a :class:`MemberClassifier`
    ``model(inputs, mode='tensor')`` gives the logits. The prediction is
    the argmax of the logits, compared with ``gt_label``.
    """
    from mmengine.config import Config, DictAction
    from mmengine.dataset import default_collate

    from mstkd.registry import DATASETS, MODELS
    from mstkd.utils import register_all_modules
    register_all_modules(init_default_scope=True)
    cfg = Config.fromfile(config if osp.isabs(config) else
                          osp.join(REPO, config))
    cfg.merge_from_dict({
        k: DictAction._parse_iterable(v)
        for k, v in (o.split('=', 1) for o in options)})
    from mstkd.utils.checkpoint import (PARTIAL_STATE, fill_external_state,
                                        key_in)
    model = MODELS.build(cfg.model).eval()
    saved = torch.load(ckpt, map_location='cpu')
    fill_external_state(saved, ckpt)  # a slim checkpoint's other files
    dropped = (saved.get('meta') or {}).get(PARTIAL_STATE, {}).get(
        'dropped')
    if dropped:  # a best checkpoint: the student (and gate) only
        result = model.load_state_dict(saved['state_dict'], strict=False)
        assert not result.unexpected_keys, result.unexpected_keys
        assert all(key_in(k, dropped) for k in result.missing_keys), \
            result.missing_keys
    else:
        model.load_state_dict(saved['state_dict'])
    if hasattr(model, 'members'):
        forward = model.members[student or model.target]
    else:

        def forward(inputs):
            return model(inputs, mode='tensor')

    dataset = DATASETS.build(cfg.test_dataloader.dataset)
    assert len(dataset) > 0
    correct = 0
    with torch.no_grad():
        for i in range(0, len(dataset), batch_size):
            batch = default_collate([
                dataset[j]
                for j in range(i, min(i + batch_size, len(dataset)))])
            data = model.data_preprocessor(batch, False)
            logits = forward(data['inputs'])
            samples = data['data_samples']
            labels = samples['gt_label'] if isinstance(samples, dict) else \
                torch.cat([s.gt_label for s in samples])
            correct += int((logits.argmax(1) == labels.flatten()).sum())
    return correct / len(dataset)


def reference_kl(p_logits: torch.Tensor, q_logits: torch.Tensor,
                 t: float = 1.0, valid: Optional[torch.Tensor] = None,
                 normalize: str = 'valid', scale_by_t2: bool = True,
                 reduction: str = 'mean') -> torch.Tensor:
    """``KL(P || Q)`` written out in float64, per sample or per pixel.

    ``P = softmax(p_logits / T)``, ``Q = softmax(q_logits / T)`` over the
    channels (dim 1); per pixel ``sum_c P_c * (log P_c - log Q_c)``, times
    ``T**2`` when ``scale_by_t2``. ``reduction='none'`` returns that map
    (``(B, *spatial)``); ``'mean'`` averages it over the valid pixels
    (``normalize='valid'``) or over every pixel, void included (``'all'``,
    the reference release's dense KD).
    """
    def log_softmax(z):
        z = z.detach().double() / t
        z = z - z.max(1, keepdim=True).values
        return z - z.exp().sum(1, keepdim=True).log()

    log_p, log_q = log_softmax(p_logits), log_softmax(q_logits)
    per = (log_p.exp() * (log_p - log_q)).sum(1)
    if scale_by_t2:
        per = per * t * t
    if reduction == 'none':
        return per
    assert reduction == 'mean', reduction
    if valid is None or normalize == 'all':
        return per.mean()
    assert normalize == 'valid', normalize
    valid = valid.to(per.device).double()
    return (per * valid).sum() / valid.sum()
