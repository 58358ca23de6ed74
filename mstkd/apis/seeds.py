"""Run a config over several seeds and summarise test metrics (mean, std).

Each seed is one training run followed by ``tools/test.py`` on the best
checkpoint by validation loss (the paper's model selection), both in
subprocesses exactly as a user would call them. Training runs
``tools/train.py`` (``launcher='none'``), ``tools/dist_train.sh`` (torchrun,
``'pytorch'``) or ``tools/slurm_train.sh`` (``'slurm'``); testing is always
one process.
"""
import glob
import json
import os
import os.path as osp
import re
import subprocess
import sys
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from mstkd.utils.errors import UserInputError

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TOOLS = osp.join(REPO_ROOT, 'tools')
LAUNCHERS = ('none', 'pytorch', 'slurm')


def find_best_checkpoint(work_dir: str, key: str = 'CE') -> str:
    """The checkpoint mmengine's CheckpointHook kept as best by ``key``."""
    found = sorted(glob.glob(osp.join(work_dir, f'best_{key}_*.pth')),
                   key=osp.getmtime)
    if not found:
        raise FileNotFoundError(
            f'No best_{key}_*.pth in {work_dir}: did training finish and '
            f'does the config save the best checkpoint by "{key}"?')
    return found[-1]


def _run(cmd: List[str], log_file: str, quiet: bool,
         threads: Optional[int] = None,
         extra_env: Optional[Dict[str, str]] = None) -> None:
    env = dict(os.environ)
    if threads:
        env['OMP_NUM_THREADS'] = env['MKL_NUM_THREADS'] = str(threads)
    env['PYTHONPATH'] = os.pathsep.join(
        [REPO_ROOT] + ([env['PYTHONPATH']] if env.get('PYTHONPATH') else []))
    env.update(extra_env or {})
    with open(log_file, 'a') as log:
        log.write('$ ' + ' '.join(cmd) + '\n')
        log.flush()
        proc = subprocess.run(
            cmd, env=env, stdout=log if quiet else None,
            stderr=subprocess.STDOUT if quiet else None)
    if proc.returncode != 0:
        raise RuntimeError(f'Command failed ({proc.returncode}): '
                           f'{" ".join(cmd)}; see {log_file}')


def check_launcher(launcher: str, gpus: int,
                   partition: Optional[str] = None) -> None:
    """Fail early, naming the fix, on launcher arguments that cannot run.

    Args:
        launcher (str): 'none', 'pytorch' or 'slurm'.
        gpus (int): Processes of a distributed run (>= 1).
        partition (str, optional): SLURM partition, required for 'slurm'.
    """
    if launcher not in LAUNCHERS:
        raise UserInputError(f'Unknown launcher "{launcher}": use one of '
                             f'{", ".join(LAUNCHERS)}.')
    if int(gpus) < 1:
        raise UserInputError(f'gpus must be >= 1, got {gpus}.')
    if launcher == 'slurm' and not partition:
        raise UserInputError('The slurm launcher needs a partition: pass '
                             '--partition NAME.')


def train_command(config: str,
                  work_dir: str,
                  seed: int,
                  extra: Sequence[str] = (),
                  launcher: str = 'none',
                  gpus: int = 1,
                  partition: Optional[str] = None,
                  job_name: Optional[str] = None,
                  python: str = sys.executable
                  ) -> Tuple[List[str], Dict[str, str]]:
    """The command (and environment additions) that trains one seed.

    Args:
        config (str): Config path.
        work_dir (str): The run's work dir.
        seed (int): The run seed (``--seed``).
        extra (Sequence[str]): Further arguments of ``tools/train.py``
            (e.g. ``['--cfg-options', 'k=v']``).
        launcher (str): 'none' (``python tools/train.py``), 'pytorch'
            (``tools/dist_train.sh CONFIG GPUS``, torchrun on this node) or
            'slurm' (``tools/slurm_train.sh PARTITION JOB CONFIG WORK_DIR``,
            srun with ``GPUS`` tasks).
        gpus (int): Processes (GPUs) of a distributed run. Defaults to 1.
        partition (str, optional): SLURM partition (required for 'slurm').
        job_name (str, optional): SLURM job name. Defaults to
            ``<config name>_seed<seed>``.
        python (str): The interpreter the scripts run (their ``PYTHON``).

    Returns:
        tuple[list[str], dict[str, str]]: The argv and the variables to add
        to the environment.
    """
    check_launcher(launcher, gpus, partition)
    seed_args = ['--seed', str(seed), *extra]
    if launcher == 'none':
        return [python, osp.join(TOOLS, 'train.py'), config, '--work-dir',
                work_dir, *seed_args], {}
    if launcher == 'pytorch':
        return ['bash', osp.join(TOOLS, 'dist_train.sh'), config, str(gpus),
                '--work-dir', work_dir, *seed_args], dict(PYTHON=python)
    if job_name is None:
        job_name = f'{osp.splitext(osp.basename(config))[0]}_seed{seed}'
    per_node = min(int(gpus), int(os.environ.get('GPUS_PER_NODE', 4)))
    return (['bash', osp.join(TOOLS, 'slurm_train.sh'), partition, job_name,
             config, work_dir, *seed_args],
            dict(PYTHON=python, GPUS=str(gpus),
                 GPUS_PER_NODE=str(per_node)))


def run_seeds(config: str,
              seeds: Sequence[int],
              work_root: str,
              cfg_options: Optional[Sequence[str]] = None,
              best_key: str = 'CE',
              quiet: bool = True,
              python: str = sys.executable,
              threads: Optional[int] = None,
              launcher: str = 'none',
              gpus: int = 1,
              partition: Optional[str] = None,
              job_name: Optional[str] = None) -> List[Dict[str, float]]:
    """Train and test ``config`` once per seed; return the test metrics.

    Args:
        config (str): Config path.
        seeds (Sequence[int]): Run seeds (each selects its split group).
        work_root (str): ``work_root/seed_{s}`` is each run's work dir.
        cfg_options (Sequence[str], optional): ``key=value`` overrides passed
            to both tools; ``{seed}`` in them is replaced by the run seed
            (e.g. ``load_from=W/seed_{seed}/s1_end.pth``).
        best_key (str): Which best checkpoint to test. Defaults to 'CE'
            (validation loss).
        quiet (bool): Send the tools' output to ``work_root/log.txt``
            (``log_seed_{s}.txt`` per seed).
        threads (int, optional): CPU threads of each run (OMP_NUM_THREADS).
        launcher (str): How training runs: 'none' (default, one process),
            'pytorch' or 'slurm'; see :func:`train_command`. Testing is
            always one ``tools/test.py`` process.
        gpus (int): Processes of a distributed training run.
        partition (str, optional): SLURM partition ('slurm' only).
        job_name (str, optional): SLURM job name; ``{seed}`` in it is
            replaced by the run seed. Defaults to ``<config>_seed<seed>``.

    Returns:
        list[dict]: The test metrics of every seed (with its ``seed``).
    """
    check_launcher(launcher, gpus, partition)
    os.makedirs(work_root, exist_ok=True)
    results = []
    for seed in seeds:
        log_file = osp.join(work_root, f'log_seed_{seed}.txt')
        extra = ['--cfg-options'] + [
            o.replace('{seed}', str(seed)) for o in cfg_options
        ] if cfg_options else []
        work_dir = osp.join(work_root, f'seed_{seed}')
        name = job_name.replace('{seed}', str(seed)) if job_name else None
        cmd, env = train_command(config, work_dir, seed, extra, launcher,
                                 gpus, partition, name, python)
        _run(cmd, log_file, quiet, threads, env)
        ckpt = find_best_checkpoint(work_dir, best_key)
        out = osp.join(work_dir, 'test_metrics.json')
        _run([python, osp.join(TOOLS, 'test.py'), config, ckpt, '--work-dir',
              osp.join(work_dir, 'test'), '--seed', str(seed), '--out', out,
              *extra], log_file, quiet, threads)
        with open(out) as f:
            metrics = json.load(f)
        metrics['seed'] = seed
        results.append(metrics)
    return results


def summarize(results: Sequence[Dict[str, float]],
              keys: Sequence[str] = ('OA', 'AA')) -> Dict[str, tuple]:
    """``{key: (mean, std, n)}`` with the sample std (ddof=1; 0 for n=1)."""
    out = {}
    for key in keys:
        vals = np.array([r[key] for r in results if key in r], dtype=float)
        std = float(vals.std(ddof=1)) if len(vals) > 1 else 0.0
        out[key] = (float(vals.mean()), std, len(vals))
    return out


def format_table(rows: Dict[str, Dict[str, tuple]],
                 keys: Sequence[str] = ('OA', 'AA')) -> str:
    """A Markdown table: one row per model, ``mean ± std`` per metric."""
    head = '| model | ' + ' | '.join(keys) + ' | seeds |'
    sep = '|' + '---|' * (len(keys) + 2)
    lines = [head, sep]
    for name, summary in rows.items():
        cells = [f'{summary[k][0]:.4f} ± {summary[k][1]:.4f}' for k in keys]
        n = max(summary[k][2] for k in keys)
        lines.append(f'| {name} | ' + ' | '.join(cells) + f' | {n} |')
    return '\n'.join(lines)


def parse_seeds(text: str) -> List[int]:
    """'0-4' -> [0..4]; '0,2,3' -> [0, 2, 3]."""
    m = re.fullmatch(r'(\d+)-(\d+)', text)
    if m:
        return list(range(int(m.group(1)), int(m.group(2)) + 1))
    return [int(s) for s in text.split(',') if s]
