# Evaluate a checkpoint: python tools/test.py CONFIG CHECKPOINT [--out m.json]
import argparse
import json
import os
import os.path as osp

from mmengine.config import DictAction
from mmengine.runner import Runner

from mstkd.models.wrappers import unwrap_model
from mstkd.registry import RUNNERS
from mstkd.utils import register_all_modules
from mstkd.utils.checkpoint_match import (check_keys, check_target,
                                          read_checkpoint)
from mstkd.utils.cli import run_tool
from mstkd.utils.errors import UserInputError
from mstkd.utils.run_config import (finalize_distributed, load_run_config,
                                    set_local_rank_env)


def parse_args():
    parser = argparse.ArgumentParser(
        description='Evaluate a checkpoint with mstkd and print the metrics '
        'of the config\'s test evaluator (classification: OA/AA/F1/kappa; '
        'segmentation: mIoU/OA/AA and per-class IoU)')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument(
        '--work-dir', help='the dir to save the evaluation log')
    parser.add_argument(
        '--out', help='write the metrics to this JSON file')
    parser.add_argument(
        '--show-dir',
        help='segmentation: write every test image with its colourised '
        'ground truth and prediction to this directory')
    parser.add_argument(
        '--seed', type=int, default=None,
        help='run seed: split group of the test set (use the training one)')
    parser.add_argument(
        '--non-strict',
        action='store_true',
        help='test a checkpoint that does not fit the config (keys missing '
        'or unexpected, shapes or the distilled target differ) with a '
        'warning listing the mismatch; by default that is an error')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override settings of the config, key=value pairs')
    parser.add_argument(
        '--launcher',
        choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none',
        help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args()
    set_local_rank_env(args.local_rank)
    return args


def enable_show_dir(cfg, show_dir: str) -> None:
    """Turn on the config's segmentation visualisation hook for every test
    image; the visualizer saves under ``show_dir`` (as mmseg's test.py)."""
    hook = cfg.get('default_hooks', {}).get('visualization')
    if hook is None:
        raise UserInputError(
            '--show-dir needs a visualization hook in default_hooks (the '
            'segmentation configs, e.g. configs/mst/mst_nyu_rgb.py, have '
            "one: dict(type='mmseg.SegVisualizationHook')).")
    hook.update(draw=True, interval=1)
    cfg.visualizer['save_dir'] = osp.abspath(show_dir)


def main():
    args = parse_args()
    register_all_modules(init_default_scope=False)
    if not osp.isfile(args.checkpoint):
        raise UserInputError(f'Checkpoint not found: {args.checkpoint}')
    work_dir = args.work_dir
    if work_dir is None:
        work_dir = osp.join('./work_dirs', 'test',
                            osp.splitext(osp.basename(args.config))[0])
    cfg = load_run_config(args.config, args.cfg_options, work_dir,
                          args.launcher, args.seed)
    # Strict by default: a checkpoint of another model or another target
    # fails here, before testing (mmengine's Runner loads non-strictly).
    ckpt = read_checkpoint(args.checkpoint)
    check_target(ckpt, cfg.model, args.checkpoint, strict=not args.non_strict)
    cfg.load_from = args.checkpoint
    cfg.resume = False
    if args.show_dir:
        enable_show_dir(cfg, args.show_dir)

    if 'runner_type' not in cfg:
        runner = Runner.from_cfg(cfg)
    else:
        runner = RUNNERS.build(cfg)
    check_keys(unwrap_model(runner.model), ckpt, args.checkpoint,
               strict=not args.non_strict)
    del ckpt  # the Runner reads load_from itself (and calls its hooks)
    metrics = runner.test()
    if args.show_dir and runner.rank == 0:
        print(f'predictions drawn under {osp.abspath(args.show_dir)}'
              '/vis_data/vis_image (image + ground truth | image + '
              'prediction)')

    if runner.rank == 0:
        width = max(len(k) for k in metrics)
        print('\n'.join(f'{k:<{width}}  {v:.4f}' if isinstance(v, float)
                        else f'{k:<{width}}  {v}'
                        for k, v in metrics.items()))
        if args.out:
            os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
            with open(args.out, 'w') as f:
                json.dump(metrics, f, indent=2, default=float)
    finalize_distributed()


if __name__ == '__main__':
    run_tool(main)
