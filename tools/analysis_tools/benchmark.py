"""Train and test every cell of a benchmark spec over seeds; write the
table (the paper's Table 1 layout: rows by paradigm, method and teacher
config; columns by dataset and target modality; mean ± std (n)).

    python tools/analysis_tools/benchmark.py configs/benchmarks/avdigits_table1.py \
        --work-dir work_dirs/benchmark_avdigits --seeds 0-4 --epochs 10 --jobs 2

Teachers are trained once per seed and shared; runs with a result are
skipped, an interrupted run resumes from its last checkpoint, so the same
command continues an interrupted benchmark. ``--table-only`` writes the
table from the finished runs. A spec cell with ``fork='s2'`` trains only
the stages after S2, from the s2_end.pth of the same config's run without
the cell's options (shared, paired S1/S2). Results: ``<work-dir>/table.md`` and
``table.json`` (every run's metrics under ``runs/`` and ``teachers/``).
"""
import argparse
import os.path as osp
import sys
import time

from mstkd.apis.benchmark import (execute, load_spec, plan, summarize_table,
                                  write_tables)
from mstkd.apis.seeds import parse_seeds
from mstkd.utils.cli import run_tool
from mstkd.utils.errors import UserInputError


def parse_args():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument('spec', help='benchmark spec (configs/benchmarks/)')
    parser.add_argument('--work-dir', required=True)
    parser.add_argument('--seeds', default=None,
                        help="'0-4' or '0,2' (default: the spec's seeds)")
    parser.add_argument('--epochs', type=int, default=None,
                        help="student epochs of every cell (default: the "
                        "spec's epochs)")
    parser.add_argument('--jobs', type=int, default=1,
                        help='runs in parallel (each gets cores/jobs '
                        'threads)')
    parser.add_argument('--columns', default=None,
                        help="comma-separated subset of the spec's columns")
    parser.add_argument('--cfg-options', nargs='+', default=[],
                        help='key=value overrides of every run (teachers '
                        'too)')
    parser.add_argument('--table-only', action='store_true',
                        help='write the table from finished runs only')
    parser.add_argument('--dry-run', action='store_true',
                        help='print the plan and exit')
    return parser.parse_args()


def main():
    args = parse_args()
    spec = load_spec(args.spec)
    if args.columns:
        keep = args.columns.split(',')
        unknown = [c for c in keep if c not in spec.columns]
        if unknown:
            raise UserInputError(f'--columns {unknown} are not columns of '
                                 f'{args.spec}: {list(spec.columns)}.')
        spec.columns = {c: spec.columns[c] for c in keep}
        for row in spec.rows:
            row.cells = {c: v for c, v in row.cells.items() if c in keep}
    seeds = parse_seeds(args.seeds) if args.seeds else list(
        spec.get('seeds', [0]))
    epochs = args.epochs if args.epochs is not None else spec.get('epochs')
    metrics = list(spec.get('metrics', ['OA', 'AA']))
    teachers, runs, cells = plan(spec, args.work_dir, seeds, epochs,
                                 args.cfg_options)
    todo = [r for r in teachers + runs if not r.done()]
    print(f'{args.spec}: {len(spec.rows)} rows x {len(spec.columns)} '
          f'columns, seeds {seeds}, {epochs or "config"} student epochs: '
          f'{len(teachers)} teacher runs, {len(runs)} cell runs, '
          f'{len(todo)} to do')
    if args.dry_run:
        for run in teachers + runs:
            state = 'done' if run.done() else 'todo'
            fork = '' if run.base is None else \
                f' (after {run.fork} of {run.base.work_dir})'
            print(f'  [{state}] {run.config} seed {run.seed} '
                  f'{" ".join(run.all_options())} -> {run.work_dir}{fork}')
        return
    start = time.time()
    failures = []
    if not args.table_only:
        failures += execute(teachers, args.jobs)
        failures += execute(runs, args.jobs)
    elapsed = time.time() - start
    table = summarize_table(spec, cells, metrics)
    header = (f"# {spec.get('title', osp.basename(args.spec))}\n\n"
              f'`python tools/analysis_tools/benchmark.py {args.spec} '
              f'--work-dir {args.work_dir} --seeds '
              f'{",".join(map(str, seeds))}'
              + (f' --columns {args.columns}' if args.columns else '')
              + (f' --epochs {epochs}' if epochs else '') +
              f' --jobs {args.jobs}`; {len(todo)} runs took '
              f'{elapsed / 60:.1f} min this call.')
    print(write_tables(table, args.work_dir, metrics, header,
                       list(spec.get('scalars', []))))
    if failures:
        print(f'{len(failures)} runs failed:\n  ' + '\n  '.join(failures),
              file=sys.stderr)
        sys.exit(1)


if __name__ == '__main__':
    run_tool(main)
