"""Benchmark tables (the paper's Table 1 / 2 / 3 / 7 / 8 layouts) from a
spec file: every (row, column) cell is a config trained and tested over
seeds; teachers are trained once per seed and shared; finished runs are
skipped, so an interrupted benchmark resumes.

A spec is a Python config (see ``configs/benchmarks/``)::

    title = 'AV-Digits, test OA'
    columns = dict(image='AV-Digits image', audio='AV-Digits audio')
    seeds = [0, 1, 2, 3, 4]
    epochs = 30          # student epochs of every cell (None: the config's)
    metrics = ['OA', 'AA']
    scalars = []          # training scalars reported at their last value
    options = []          # --cfg-options of every run (teachers too)
    teacher_options = []  # --cfg-options of the teacher runs only
    rows = [
        dict(paradigm='-', method='w/o KD', tconfig='-', baseline=True,
             cells=dict(image='configs/members/avdigits_image.py', ...)),
        dict(paradigm='Response-Based', method='KD', tconfig='MM',
             cells=dict(image='configs/baselines/kd/kd_avdigits_image_mm.py',
                        audio=dict(config='...', options=['k=v']))),
        ...]

Rows that run one config per column with the same options give
``options`` (strings or lists of them) and ``fork`` instead of ``cells``,
the configs coming from the spec's ``configs``::

    configs = dict(image='configs/mst/mst_avdigits_image.py',
                   audio='configs/mst/mst_avdigits_audio.py')
    rows = [dict(method='default'),
            dict(method='CV load balance', options=['model.lb_mode=cv'],
                 fork='s2')]

**The same budget for every cell** (``epochs = E``): a single-stage run
trains ``E`` epochs; a multi-stage run (FitNets' hint + KD, any
``MultiStageTrainLoop``) splits ``E`` over its stages in order; MST-Distill
trains its student ``E // 2`` epochs in S1 and ``E - E // 2`` in S3 (S2
trains MaskNets only and keeps the config's length).

**Teachers.** A cell config whose ``model.pretrained.<member>`` names a
``config`` gets that member trained once per seed (the config as it is) in
``<work>/teachers/<name>/seed_<s>`` and passed as
``model.pretrained.<member>.checkpoint=<that work dir>``.

**Forked cells** (``dict(config=..., options=[...], fork='s2')``): the
cell's options change only the stages after S2 (e.g. ``model.routing``);
its run starts from the ``s2_end.pth`` of the same config's run without
them (see :func:`mstkd.utils.checkpoint.fork_stage_end`) and trains S3
only. The forked cells of a seed share its S1/S2 exactly: a paired
comparison, and S1 + S2 trained once (their ``train_s`` is S3's).

**Both model selections.** Every run is tested with its best checkpoint by
validation loss (``CE``, the paper's) and by validation OA (``OA``); the
tables report both, with the mean best epoch of each cell against its
length (a best epoch at the last one means the run had not converged).
A spec's ``selections`` names others (the keys of its configs'
``save_best``; NYU-Depth-V2: ``['CE', 'mIoU']``).
"""
import glob
import hashlib
import json
import os
import os.path as osp
import re
import sys
import time
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor, as_completed
from typing import Dict, List, Optional, Sequence

import numpy as np
from mmengine.config import Config

from mstkd.utils.checkpoint import fork_stage_end
from mstkd.utils.errors import UserInputError
from .seeds import REPO_ROOT, TOOLS, _run, find_best_checkpoint

SELECTIONS = ('CE', 'OA')


# ---------------------------------------------------------------- the spec
def flatten_options(options) -> list:
    """``--cfg-options`` given as strings or lists of them, flattened."""
    if isinstance(options, str):
        return [options]
    return [o for opt in options or []
            for o in ([opt] if isinstance(opt, str) else opt)]


def _row_cells(spec: Config, row) -> dict:
    """A row without ``cells``: one cell per column from the spec's
    ``configs`` (column -> config), each with the row's ``options`` and
    ``fork``."""
    options = flatten_options(row.get('options'))
    return {column: dict(config=config, options=list(options),
                         fork=row.get('fork'))
            for column, config in spec.configs.items()}


def selections(spec: Config) -> tuple:
    """The best checkpoints every run is tested with: the spec's
    ``selections`` (the keys of the configs' ``save_best``, e.g.
    ``['CE', 'mIoU']`` for NYU-Depth-V2), default ``('CE', 'OA')``."""
    return tuple(spec.get('selections', SELECTIONS))


def load_spec(path: str) -> Config:
    """Read and check a benchmark spec; errors name the key and the fix."""
    if not osp.isfile(path):
        raise UserInputError(f'benchmark spec {path} does not exist (see '
                             'configs/benchmarks/ for examples).')
    spec = Config.fromfile(path)
    for key in ('columns', 'rows'):
        if key not in spec:
            raise UserInputError(f'{path}: the spec needs "{key}".')
    for i, row in enumerate(spec.rows):
        if 'cells' not in row and 'method' in row and 'configs' in spec:
            row['cells'] = _row_cells(spec, row)
        if 'method' not in row or 'cells' not in row:
            raise UserInputError(
                f'{path}: rows[{i}] needs "method" and "cells" (or the '
                'spec\'s "configs", column -> config, for rows that give '
                '"options" and "fork" only).')
        unknown = sorted(set(row.cells) - set(spec.columns))
        if unknown:
            raise UserInputError(
                f'{path}: rows[{i}] ({row.method}) has cells {unknown} that '
                f'are not columns; columns: {list(spec.columns)}.')
        for column, cell in row.cells.items():
            config = cell if isinstance(cell, str) else cell.get('config')
            if not config or not osp.isfile(osp.join(REPO_ROOT, config)):
                raise UserInputError(
                    f'{path}: rows[{i}] ({row.method}) column {column}: '
                    f'config {config!r} does not exist.')
    if sum(bool(r.get('baseline')) for r in spec.rows) > 1:
        raise UserInputError(f'{path}: at most one row is the baseline.')
    return spec


def _cell(cell) -> tuple:
    """``(config, options, fork)`` of a spec cell."""
    if isinstance(cell, str):
        return cell, [], None
    return cell['config'], list(cell.get('options', [])), cell.get('fork')


def budget_options(cfg: Config, epochs: Optional[int]) -> List[str]:
    """``--cfg-options`` giving the run ``epochs`` student epochs."""
    if epochs is None:
        return []
    loop = cfg.train_cfg.get('type', 'EpochBasedTrainLoop')
    if loop == 'MSTDistillLoop':
        return [f'train_cfg.s1_epochs={epochs // 2}',
                f'train_cfg.s3_epochs={epochs - epochs // 2}']
    if loop == 'MultiStageTrainLoop':
        stages = list(cfg.train_cfg.stages)
        share = [epochs // len(stages)] * len(stages)
        share[-1] += epochs - sum(share)
        return [f'train_cfg.stages.{s}={e}' for s, e in zip(stages, share)]
    return [f'train_cfg.max_epochs={epochs}']


def total_epochs(cfg: Config, options: Sequence[str]) -> int:
    """Epochs of the run with ``options`` applied (all stages)."""
    cfg = Config(cfg.to_dict())
    cfg.merge_from_dict(dict(o.split('=', 1) for o in options
                             if o.startswith('train_cfg.')))
    train = cfg.train_cfg
    if train.get('type') == 'MSTDistillLoop':
        return sum(int(train[k]) for k in ('s1_epochs', 's2_epochs',
                                           's3_epochs'))
    if train.get('type') == 'MultiStageTrainLoop':
        return sum(int(v) if not isinstance(v, dict) else int(v['epochs'])
                   for v in train.stages.values())
    return int(train.max_epochs)


def _run_name(config: str, options: Sequence[str]) -> str:
    stem = osp.splitext(osp.basename(config))[0]
    if not options:
        return stem
    digest = hashlib.sha1('\n'.join(options).encode()).hexdigest()[:8]
    return f'{stem}_{digest}'


class Run:
    """One (config, options, seed) training + the two tests."""

    def __init__(self, config: str, options: List[str], seed: int,
                 work_dir: str, teachers: Dict[str, 'Run'] = None,
                 epochs: int = 0, base: Optional['Run'] = None,
                 fork: Optional[str] = None):
        self.config = config
        self.options = options
        self.seed = seed
        self.work_dir = work_dir
        self.teachers = teachers or {}
        self.epochs = epochs
        # a forked run starts from ``base``'s ``{fork}_end.pth``
        self.base = base
        self.fork = fork
        # the best checkpoints tested (the spec's ``selections``)
        self.selections = SELECTIONS

    @property
    def result_file(self) -> str:
        return osp.join(self.work_dir, 'result.json')

    def done(self) -> bool:
        return osp.isfile(self.result_file)

    def all_options(self) -> List[str]:
        return self.options + [
            f'model.pretrained.{m}.checkpoint={t.work_dir}'
            for m, t in self.teachers.items()]

    def execute(self, python: str = sys.executable,
                threads: Optional[int] = None) -> dict:
        """Train (resuming an interrupted run), test both selections and
        write ``result.json`` last."""
        if self.done():
            with open(self.result_file) as f:
                return json.load(f)
        os.makedirs(self.work_dir, exist_ok=True)
        log = osp.join(self.work_dir, 'benchmark_log.txt')
        options = self.all_options()
        extra = ['--cfg-options', *options] if options else []
        config = osp.join(REPO_ROOT, self.config)
        if self.base is not None and not osp.isfile(
                osp.join(self.work_dir, 'last_checkpoint')):
            fork_stage_end(self.base.work_dir, self.fork, self.work_dir)
        resume = ['--resume'] if osp.isfile(
            osp.join(self.work_dir, 'last_checkpoint')) else []
        start = time.time()
        _run([python, osp.join(TOOLS, 'train.py'), config, '--work-dir',
              self.work_dir, '--seed', str(self.seed), *resume, *extra],
             log, True, threads)
        train_s = time.time() - start
        result = dict(config=self.config, options=options, seed=self.seed,
                      epochs=self.epochs, train_s=round(train_s, 1),
                      final_scalars=final_scalars(self.work_dir))
        if self.base is not None:
            result['forked_from'] = dict(work_dir=self.base.work_dir,
                                         stage=self.fork)
        for key in self.selections:
            ckpt = find_best_checkpoint(self.work_dir, key)
            match = re.search(r'epoch_(\d+)', osp.basename(ckpt))
            out = osp.join(self.work_dir, f'test_{key}.json')
            _run([python, osp.join(TOOLS, 'test.py'), config, ckpt,
                  '--work-dir', osp.join(self.work_dir, f'test_{key}'),
                  '--seed', str(self.seed), '--out', out, *extra], log,
                 True, threads)
            with open(out) as f:
                result[key] = json.load(f)
            result[f'best_epoch_{key}'] = int(match.group(1)) if match \
                else None
        tmp = self.result_file + '.tmp'
        with open(tmp, 'w') as f:
            json.dump(result, f, indent=2)
        os.replace(tmp, self.result_file)
        return result


def final_scalars(work_dir: str, prefix: str = 'routing/') -> dict:
    """The last logged value of every ``prefix*`` training scalar of a run
    (``<work_dir>/<timestamp>/vis_data/scalars.json``; e.g. the routing
    entropy at the last S3 epoch)."""
    out = {}
    for path in sorted(glob.glob(osp.join(work_dir, '*', 'vis_data',
                                          'scalars.json'))):
        with open(path) as f:
            for line in f:
                try:
                    row = json.loads(line)
                except ValueError:
                    continue
                out.update({k: v for k, v in row.items()
                            if k.startswith(prefix)})
    return out


def plan(spec: Config, work_root: str, seeds: Sequence[int],
         epochs: Optional[int], options: Sequence[str] = ()) -> tuple:
    """The teacher runs and the cell runs (``{(row, column): [Run]}``);
    identical (config, options) cells share their runs, and so do a cell
    and a teacher that are the same training (the cell's run is then in
    the teacher list only). ``options`` (and
    the spec's ``options``) go to every run, the spec's
    ``teacher_options`` to the teacher runs.

    A cell with ``fork='s2'`` (its options change only the stages after
    S2, e.g. the S3 routing) starts from the ``s2_end.pth`` of the same
    config's run without the cell's options (the *base* run, trained
    whole, a cell itself or not) and trains the later stages only: the
    forked cells of a seed share that seed's S1/S2 exactly (a paired
    comparison, and S1 + S2 trained once)."""
    common = list(spec.get('options', [])) + list(options)
    teacher_common = common + list(spec.get('teacher_options', []))
    teachers: Dict[tuple, Run] = OrderedDict()
    runs: Dict[str, Run] = OrderedDict()
    cells: Dict[tuple, List[Run]] = OrderedDict()

    # (config, options, seed) -> a plain run (no teachers, no fork): a
    # teacher and a cell that are the same training (e.g. the w/o KD cell
    # and the CM teacher of the other target at the configs' own length)
    # are one run
    plain: Dict[tuple, Run] = {}

    def seed_teachers(cfg, seed):
        found = {}
        for member, entry in (cfg.model.get('pretrained') or {}).items():
            if not isinstance(entry, dict) or 'config' not in entry:
                continue
            tconfig = entry['config']
            key = (tconfig, seed)
            if key not in teachers:
                same = (tconfig, tuple(teacher_common), seed)
                if same not in plain:
                    tname = osp.splitext(osp.basename(tconfig))[0]
                    plain[same] = Run(
                        tconfig, teacher_common, seed,
                        osp.join(work_root, 'teachers', tname,
                                 f'seed_{seed}'),
                        epochs=total_epochs(Config.fromfile(
                            osp.join(REPO_ROOT, tconfig)), teacher_common))
                teachers[key] = plain[same]
            found[member] = teachers[key]
        return found

    def get_run(config, cfg, options, seed, base=None, fork=None):
        name = _run_name(config, options + ([f'@fork={fork}'] if fork
                                            else []))
        members = seed_teachers(cfg, seed)
        key = name + ''.join(f'+{m}' for m in sorted(members)) + \
            f'/seed_{seed}'
        same = (config, tuple(options), seed)
        if key not in runs:
            if not members and fork is None and same in plain:
                runs[key] = plain[same]  # trained as a teacher already
            else:
                runs[key] = Run(config, options, seed,
                                osp.join(work_root, 'runs', name,
                                         f'seed_{seed}'), members,
                                total_epochs(cfg, options), base, fork)
                if not members and fork is None:
                    plain.setdefault(same, runs[key])
        return runs[key]

    for i, row in enumerate(spec.rows):
        for column, cell in row.cells.items():
            config, cell_options, fork = _cell(cell)
            cfg = Config.fromfile(osp.join(REPO_ROOT, config))
            if fork is not None:
                stages = stage_names(cfg)
                if fork not in stages[:-1]:
                    raise UserInputError(
                        f'row "{row.method}", column "{column}": fork='
                        f'{fork!r} must be a stage of {config} followed by '
                        f'another (stages: {stages}).')
            budget = budget_options(cfg, epochs)
            run_options = budget + cell_options + common
            cell_runs = []
            for seed in seeds:
                if fork is None or not cell_options:
                    cell_runs.append(get_run(config, cfg, run_options,
                                             seed))
                    continue
                base = get_run(config, cfg, budget + common, seed)
                cell_runs.append(get_run(config, cfg, run_options, seed,
                                         base, fork))
            cells[(i, column)] = cell_runs
    # one run per (teacher config, seed): the values are distinct
    teacher_runs = list(teachers.values())
    for run in teacher_runs + list(runs.values()):
        run.selections = selections(spec)
    shared = {id(r) for r in teacher_runs}
    return teacher_runs, [r for r in runs.values()
                          if id(r) not in shared], cells


def stage_names(cfg: Config) -> List[str]:
    """The training stages of a config, in order ([] for one stage)."""
    train = cfg.train_cfg
    if train.get('type') == 'MSTDistillLoop':
        return ['s1', 's2', 's3']
    if train.get('type') == 'MultiStageTrainLoop':
        return list(train.stages)
    return []


def execute(runs: Sequence[Run], jobs: int = 1,
            python: str = sys.executable, log=print) -> List[str]:
    """Run every unfinished run, ``jobs`` at a time (each with
    ``cores // jobs`` threads), the forked runs after the others (they
    start from a base run's stage-end file); returns the failures'
    messages."""
    todo = [r for r in runs if not r.done()]
    threads = max(1, (os.cpu_count() or 1) // max(1, jobs))
    failures = []
    n = 0
    for wave in ([r for r in todo if r.base is None],
                 [r for r in todo if r.base is not None]):
        with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
            futures = {pool.submit(r.execute, python, threads): r
                       for r in wave}
            for future in as_completed(futures):
                n += 1
                run = futures[future]
                try:
                    result = future.result()
                    log(f'[{n}/{len(todo)}] {run.config} seed {run.seed}: '
                        f'OA {result["CE"].get("OA", float("nan")):.4f} '
                        f'({result["train_s"]:.0f} s) -> {run.work_dir}')
                except Exception as err:  # keep going; report at the end
                    failures.append(f'{run.config} seed {run.seed}: {err}')
                    log(f'[{n}/{len(todo)}] FAILED {run.config} seed '
                        f'{run.seed}: {err}')
    return failures


# --------------------------------------------------------------- the table
def cell_summary(runs: Sequence[Run], key: str, metric: str) -> dict:
    """Mean, sample std (ddof 1) and n of ``metric`` over the finished
    runs, selection ``key``; the mean best epoch and the run length."""
    results = []
    for run in runs:
        if run.done():
            with open(run.result_file) as f:
                results.append(json.load(f))
    if key == 'final':  # a training scalar, e.g. 'routing/entropy'
        vals = [r['final_scalars'][metric] for r in results
                if metric in r.get('final_scalars', {})]
    else:
        vals = [r[key][metric] for r in results
                if metric in r.get(key, {})]
    best = [r[f'best_epoch_{key}'] for r in results
            if r.get(f'best_epoch_{key}') is not None]
    return dict(
        mean=float(np.mean(vals)) if vals else None,
        std=float(np.std(vals, ddof=1)) if len(vals) > 1 else 0.0,
        n=len(vals), values=vals,
        best_epoch=float(np.mean(best)) if best else None,
        epochs=results[0]['epochs'] if results else None,
        train_s=float(sum(r['train_s'] for r in results)))


def summarize_table(spec: Config, cells: Dict[tuple, List[Run]],
                    metrics: Sequence[str]) -> dict:
    """Every cell's summary by selection and metric, with the marks: gain
    over the baseline row, best and second best in its column."""
    table = dict(title=spec.get('title', ''), columns=dict(spec.columns),
                 selections=list(selections(spec)), rows=[])
    base = next((i for i, r in enumerate(spec.rows) if r.get('baseline')),
                None)
    for i, row in enumerate(spec.rows):
        entry = dict(paradigm=row.get('paradigm', ''), method=row.method,
                     tconfig=row.get('tconfig', ''), cells={})
        for column in spec.columns:
            if (i, column) not in cells:
                continue
            entry['cells'][column] = {
                key: {m: cell_summary(cells[(i, column)], key, m)
                      for m in metrics}
                for key in selections(spec)}
            entry['cells'][column]['final'] = {
                m: cell_summary(cells[(i, column)], 'final', m)
                for m in spec.get('scalars', [])}
            entry['cells'][column]['config'] = cells[(i, column)][0].config
        table['rows'].append(entry)
    for column in spec.columns:
        for key in selections(spec):
            for m in metrics:
                stats = [(i, r['cells'][column][key][m])
                         for i, r in enumerate(table['rows'])
                         if column in r['cells'] and
                         r['cells'][column][key][m]['mean'] is not None]
                ranked = sorted(stats, key=lambda s: -s[1]['mean'])
                for rank, (i, s) in enumerate(ranked[:2]):
                    s['rank'] = rank + 1
                if base is not None and column in table['rows'][base][
                        'cells']:
                    ref = table['rows'][base]['cells'][column][key][m]
                    for i, s in stats:
                        if i != base and ref['mean'] is not None:
                            s['gain'] = s['mean'] - ref['mean']
    if spec.get('average_column'):
        table['average_column'] = True
    return table


def _fmt(s: dict) -> str:
    if s['mean'] is None:
        return '—'
    text = f"{s['mean']:.4f} ± {s['std']:.4f} ({s['n']})"
    if s.get('gain', 0) > 0:
        text += ' ↑'
    if s.get('rank') == 1:
        text = f'**<u>{text}</u>**'
    elif s.get('rank') == 2:
        text = f'**{text}**'
    return text


def format_markdown(table: dict, metric: str, key: str) -> str:
    """One Markdown table: rows by paradigm/method/teacher config, columns
    the spec's, ``mean ± std (n)``; ↑ a gain over the baseline row, bold
    the two best of a column, underlined the best."""
    columns = table['columns']
    head = ['Paradigm', 'Method', 'T-Config'] + list(columns.values())
    average = table.get('average_column')
    if average:
        head.append('mean over columns')
    lines = [f"**{metric}, best checkpoint by validation "
             f"{'loss' if key == 'CE' else key} ({key})**", '',
             '| ' + ' | '.join(head) + ' |',
             '|' + '---|' * len(head)]
    for row in table['rows']:
        cells = [_fmt(row['cells'][c][key][metric]) if c in row['cells']
                 else '' for c in columns]
        if average:
            means = [row['cells'][c][key][metric]['mean'] for c in columns
                     if c in row['cells']]
            cells.append(f'{np.mean(means):.4f}' if means and
                         None not in means else '—')
        lines.append('| ' + ' | '.join([row['paradigm'], row['method'],
                                        row['tconfig']] + cells) + ' |')
    return '\n'.join(lines)


def format_convergence(table: dict, key: str = 'CE') -> str:
    """Mean best epoch (by ``key``) of each cell over its run length."""
    columns = table['columns']
    lines = [f'**Mean best epoch by validation '
             f"{'loss' if key == 'CE' else key} / run length (epochs, all "
             'stages)**', '',
             '| Method | T-Config | ' + ' | '.join(columns.values()) + ' |',
             '|' + '---|' * (len(columns) + 2)]
    for row in table['rows']:
        cells = []
        for c in columns:
            s = row['cells'].get(c, {}).get(key, {})
            s = next(iter(s.values()), None) if s else None
            cells.append(f"{s['best_epoch']:.1f} / {s['epochs']}"
                         if s and s['best_epoch'] is not None else '')
        lines.append(f"| {row['method']} | {row['tconfig']} | " +
                     ' | '.join(cells) + ' |')
    return '\n'.join(lines)


def format_scalar(table: dict, scalar: str) -> str:
    """A training scalar's last value per cell (mean ± std (n)), no
    marks."""
    columns = table['columns']
    lines = [f'**{scalar} at the last epoch**', '',
             '| Method | T-Config | ' + ' | '.join(columns.values()) + ' |',
             '|' + '---|' * (len(columns) + 2)]
    for row in table['rows']:
        cells = []
        for c in columns:
            s = row['cells'].get(c, {}).get('final', {}).get(scalar)
            cells.append('—' if not s or s['mean'] is None else
                         f"{s['mean']:.4f} ± {s['std']:.4f} ({s['n']})")
        lines.append(f"| {row['method']} | {row['tconfig']} | " +
                     ' | '.join(cells) + ' |')
    return '\n'.join(lines)


def write_tables(table: dict, work_root: str, metrics: Sequence[str],
                 header: str = '', scalars: Sequence[str] = ()) -> str:
    """``table.md`` (every metric x selection, then convergence) and
    ``table.json`` in ``work_root``; returns the Markdown."""
    parts = [header] if header else []
    for key in table.get('selections', SELECTIONS):
        for metric in metrics:
            parts.append(format_markdown(table, metric, key))
    for scalar in scalars:
        parts.append(format_scalar(table, scalar))
    parts.append(format_convergence(table, 'CE'))
    text = '\n\n'.join(parts) + '\n'
    os.makedirs(work_root, exist_ok=True)
    with open(osp.join(work_root, 'table.md'), 'w') as f:
        f.write(text)
    with open(osp.join(work_root, 'table.json'), 'w') as f:
        json.dump(table, f, indent=2)
    return text

