# Train a model: python tools/train.py CONFIG [--work-dir W] [--resume [CKPT]]
import argparse
import logging
import os.path as osp

from mmengine.config import DictAction
from mmengine.logging import print_log
from mmengine.runner import Runner

from mstkd.registry import RUNNERS
from mstkd.utils import register_all_modules
from mstkd.utils.cli import run_tool
from mstkd.utils.errors import UserInputError
from mstkd.utils.run_config import (finalize_distributed, load_run_config,
                                    set_local_rank_env)


def parse_args():
    parser = argparse.ArgumentParser(description='Train a model with mstkd')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', help='the dir to save logs and models')
    parser.add_argument(
        '--resume',
        nargs='?',
        type=str,
        const='auto',
        help='resume from the given checkpoint, or, with no value, from the '
        'latest checkpoint in the work dir')
    parser.add_argument(
        '--amp',
        action='store_true',
        help='mixed precision: float16 AMP on CUDA, bfloat16 autocast on a '
        'CPU with native bfloat16 (AVX512-BF16 / AMX)')
    parser.add_argument(
        '--seed',
        type=int,
        default=None,
        help='run seed: random seed and split group of the datasets')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override settings of the config, key=value pairs, e.g. '
        'train_cfg.max_epochs=5 "model.k=2"')
    parser.add_argument(
        '--launcher',
        choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none',
        help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args()
    set_local_rank_env(args.local_rank)
    return args


def _set_wrappers(cfg, cuda: bool) -> None:
    """Every plain ``OptimWrapper`` of the config (one, or one per stage)
    becomes an AMP wrapper: mmengine's on CUDA, bfloat16 autocast on a
    CPU."""
    wrappers = [cfg.optim_wrapper] if 'optimizer' in cfg.optim_wrapper \
        else [w for w in cfg.optim_wrapper.values() if isinstance(w, dict)]
    for wrapper in wrappers:
        kind = wrapper.get('type', 'OptimWrapper')
        if kind in ('AmpOptimWrapper', 'CPUAutocastOptimWrapper'):
            print_log('AMP training is already enabled in your config.',
                      logger='current', level=logging.WARNING)
        elif kind == 'OptimWrapper':
            if cuda:
                wrapper.update(type='AmpOptimWrapper', loss_scale='dynamic')
            else:
                wrapper.update(type='CPUAutocastOptimWrapper',
                               dtype='bfloat16')


def enable_amp(cfg) -> None:
    """``--amp``: float16 AMP on CUDA; bfloat16 autocast on a CPU that
    supports it (a clear error on one that does not)."""
    import torch
    from mstkd.engine.optimizers import cpu_bf16_supported
    cuda = torch.cuda.is_available()
    if not cuda and not cpu_bf16_supported():
        raise UserInputError(
            '--amp: no CUDA device, and this CPU has no native bfloat16 '
            '(AVX512-BF16 / AMX) for autocast; drop --amp to train in '
            'float32.')
    _set_wrappers(cfg, cuda)
    print_log('--amp: ' + ('float16 AMP (AmpOptimWrapper, dynamic loss '
                           'scale)' if cuda else
                           'bfloat16 autocast on the CPU '
                           '(CPUAutocastOptimWrapper)'), logger='current')


def main():
    args = parse_args()
    register_all_modules(init_default_scope=False)
    cfg = load_run_config(args.config, args.cfg_options, args.work_dir,
                          args.launcher, args.seed)

    if args.amp:
        enable_amp(cfg)

    if args.resume == 'auto':
        cfg.resume = True
        cfg.load_from = None
        last = osp.join(cfg.work_dir, 'last_checkpoint')
        if not osp.isfile(last):
            print_log(
                f'--resume: no checkpoint in {cfg.work_dir} (no '
                'last_checkpoint file): training starts from scratch.',
                logger='current', level=logging.WARNING)
            cfg.resume = False
    elif args.resume is not None:
        if not osp.isfile(args.resume):
            raise UserInputError(
                f'--resume {args.resume}: no such checkpoint file. Give a '
                'checkpoint of the run (epoch_N.pth, sN_end.pth), or '
                '--resume alone for the latest one in the work dir.')
        cfg.resume = True
        cfg.load_from = args.resume

    if 'runner_type' not in cfg:
        runner = Runner.from_cfg(cfg)
    else:
        runner = RUNNERS.build(cfg)
    runner.train()
    finalize_distributed()


if __name__ == '__main__':
    run_tool(main)
