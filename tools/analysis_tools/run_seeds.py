"""Run a config for several seeds and write a table of test OA/AA mean ± std.

    python tools/analysis_tools/run_seeds.py CONFIG --seeds 0-4 --work-dir W

Each seed is a training run (seed s = split group s) followed by
tools/test.py on the best checkpoint by validation loss; W gets results.md
and results.json. Training is tools/train.py by default; distributed:

    ... --launcher pytorch --gpus 4             (tools/dist_train.sh)
    ... --launcher slurm --gpus 8 --partition P  (tools/slurm_train.sh)

Testing always runs in one process.
"""
import argparse
import json
import os.path as osp

from mstkd.apis import format_table, run_seeds, summarize
from mstkd.apis.seeds import parse_seeds
from mstkd.utils.cli import run_tool


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('config')
    parser.add_argument('--seeds', default='0-4',
                        help="'0-4' (default, the paper's five runs) or '0,1'")
    parser.add_argument('--work-dir', required=True)
    parser.add_argument('--metrics', default='OA,AA',
                        help='comma-separated metric names to summarise')
    parser.add_argument('--best-key', default='CE',
                        help='best checkpoint to test (default: val loss)')
    parser.add_argument('--cfg-options', nargs='+', default=None,
                        help='key=value overrides for train and test')
    parser.add_argument('--verbose', action='store_true',
                        help='show the tools output instead of logging it')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm'],
                        default='none',
                        help='how each seed trains: one process (default), '
                        'torchrun via tools/dist_train.sh, or srun via '
                        'tools/slurm_train.sh')
    parser.add_argument('--gpus', type=int, default=1,
                        help='processes (GPUs) of a distributed training')
    parser.add_argument('--partition', default=None,
                        help='SLURM partition (--launcher slurm)')
    parser.add_argument('--job-name', default=None,
                        help='SLURM job name; {seed} is replaced by the '
                        'seed (default: <config>_seed<seed>)')
    return parser.parse_args()


def main():
    args = parse_args()
    keys = args.metrics.split(',')
    results = run_seeds(args.config, parse_seeds(args.seeds), args.work_dir,
                        args.cfg_options, args.best_key,
                        quiet=not args.verbose, launcher=args.launcher,
                        gpus=args.gpus, partition=args.partition,
                        job_name=args.job_name)
    name = osp.splitext(osp.basename(args.config))[0]
    summary = summarize(results, keys)
    table = format_table({name: summary}, keys)
    print(table)
    with open(osp.join(args.work_dir, 'results.md'), 'w') as f:
        f.write(table + '\n')
    with open(osp.join(args.work_dir, 'results.json'), 'w') as f:
        json.dump(dict(config=args.config, runs=results,
                       summary={k: dict(mean=v[0], std=v[1], n=v[2])
                                for k, v in summary.items()}), f, indent=2)


if __name__ == '__main__':
    run_tool(main)
