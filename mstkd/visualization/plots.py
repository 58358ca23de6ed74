"""Reading what a training run wrote and drawing it (matplotlib, Agg).

A run's work dir holds ``<timestamp>/vis_data/scalars.json`` (one JSON
object per line, written by mmengine's ``LocalVisBackend``):

- training rows: ``epoch``, ``iter``, ``step`` (the iteration), ``loss`` and
  every loss term (``loss_ce_<member>``, ``loss_align`` in S1,
  ``loss_mask_<teacher>__<layer>`` in S2, ``loss_ce``, ``loss_routed_kd``,
  ``loss_lb`` in S3), the learning rates (``<stage>.lr``);
- validation rows: no ``epoch``; ``step`` is the (1-based) epoch; the
  evaluator's metrics (``OA``, ``AA``, ``F1``, ``kappa``, ``CE``, ...) and,
  in S2, ``val/masknet_kl/<teacher:layer>``;
- routing rows (:class:`~mstkd.engine.hooks.RoutingStatsHook`, S3 epochs
  with top-k routing): ``routing/prob/<teacher:layer>``,
  ``routing/topk/<teacher:layer>``, ``routing/lambda1``,
  ``routing/lambda2``; ``step`` is the epoch.

The stage plan (which epochs are S1/S2/S3 or the stages of a
``MultiStageTrainLoop``) comes from the run's config dump
(``<timestamp>/vis_data/config.py``); the stage titles from the log lines
``Entering <title> at epoch N``. A resumed run has several timestamp
folders; a later one replaces what an earlier one logged from the epoch it
starts at.

The tools in ``tools/analysis_tools`` (``plot_routing.py``,
``plot_curves.py``, ``confusion_matrix.py``) are thin command lines over
these functions.
"""
import glob
import importlib.util
import json
import os
import os.path as osp
import re
from collections import OrderedDict
from typing import Dict, List, Optional, Sequence

import numpy as np

from mstkd.utils.errors import UserInputError

#: Figure sizes in inches at :data:`DPI` (the PNGs are exactly this size).
DPI = 100
ROUTING_FIGSIZE = (12.0, 4.5)
#: With the routing diagnostics (entropy, best-CE share) as a third panel.
ROUTING3_FIGSIZE = (17.0, 4.5)
CURVES_PANEL_SIZE = (4.5, 4.0)
CONFUSION_FIGSIZE = (7.0, 6.0)

#: Rows whose keys are bookkeeping, not curves.
_SKIP_KEYS = ('epoch', 'iter', 'step', 'time', 'data_time', 'memory')
_MULTIMODAL_NAMES = ('mm', 'fusion', 'multimodal')


def _pyplot():
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    return plt


# -- reading a work dir -------------------------------------------------------
def scalar_files(work_dir: str) -> List[str]:
    """``<work_dir>/<timestamp>/vis_data/scalars.json`` files, oldest
    first (timestamp folder names sort by time)."""
    if not osp.isdir(work_dir):
        raise UserInputError(f'work dir not found: {work_dir}')
    return sorted(
        glob.glob(osp.join(work_dir, '*', 'vis_data', 'scalars.json')))


def _row_kind(row: dict) -> str:
    if any(k.startswith('routing/') for k in row):
        return 'routing'
    return 'train' if 'epoch' in row else 'val'


def load_scalars(work_dir: str) -> Dict[str, Dict[int, dict]]:
    """The scalars of a run, per kind and epoch.

    Returns:
        dict: ``{'train': {epoch: {key: [values]}}, 'val': {epoch: {key:
        value}}, 'routing': {epoch: {key: value}}}`` with 1-based epochs.
        Training rows keep every logged value of the epoch (several logger
        intervals per epoch); validation and routing rows the last one.
    """
    files = scalar_files(work_dir)
    if not files:
        raise UserInputError(
            f'{work_dir}: no <timestamp>/vis_data/scalars.json (expected '
            'the work dir of a tools/train.py run)')
    merged = dict(train={}, val={}, routing={})
    for path in files:
        data = dict(train={}, val={}, routing={})
        with open(path) as f:
            for line in f:
                line = line.strip()
                if not line:
                    continue
                try:
                    row = json.loads(line)
                except json.JSONDecodeError:
                    continue  # a line cut by a crash
                kind = _row_kind(row)
                epoch = int(row['epoch'] if kind == 'train' else
                            row.get('step', 0))
                values = {k: v for k, v in row.items()
                          if k not in _SKIP_KEYS and
                          isinstance(v, (int, float)) and
                          not isinstance(v, bool)}
                if kind == 'train':
                    slot = data['train'].setdefault(epoch, {})
                    for k, v in values.items():
                        slot.setdefault(k, []).append(float(v))
                else:
                    data[kind].setdefault(epoch, {}).update(values)
        epochs = [e for kind in data.values() for e in kind]
        if not epochs:
            continue
        start = min(epochs)  # a resumed run replaces from here on
        for kind in merged:
            merged[kind] = {e: v for e, v in merged[kind].items()
                            if e < start}
            merged[kind].update(data[kind])
    return merged


def run_config(work_dir: str):
    """The run's config dump (:class:`mmengine.Config`), or None: the
    newest ``<timestamp>/vis_data/config.py``, else a ``*.py`` in the work
    dir itself."""
    from mmengine.config import Config
    candidates = sorted(
        glob.glob(osp.join(work_dir, '*', 'vis_data', 'config.py')),
        reverse=True) + sorted(glob.glob(osp.join(work_dir, '*.py')))
    for path in candidates:
        try:
            return Config.fromfile(path)
        except Exception:  # a foreign or broken file: try the next one
            continue
    return None


def stage_titles(work_dir: str) -> Dict[int, str]:
    """First (1-based) epoch of a stage -> its title, from the logs'
    ``Entering <title> at epoch N`` lines (e.g. ``1 -> 'S1 collaborative
    initialization'``)."""
    titles = {}
    pattern = re.compile(r'Entering (.+?) at epoch (\d+)')
    for path in sorted(glob.glob(osp.join(work_dir, '*', '*.log'))):
        with open(path, errors='replace') as f:
            for line in f:
                m = pattern.search(line)
                if m:
                    titles[int(m.group(2))] = m.group(1)
    return titles


def stage_label(stage: str) -> str:
    """``'s2'`` -> ``'S2'``; other stage names (``'hint'``) as they are
    (figures and the training log lines)."""
    return stage.upper() if re.fullmatch(r's\d+', stage) else stage


def stage_plan(cfg) -> 'OrderedDict[str, int]':
    """Stage name -> epochs, in run order, from a config's ``train_cfg``:
    ``stages=dict(...)`` (MultiStageTrainLoop), ``s1_epochs..s3_epochs``
    (MSTDistillLoop) or ``max_epochs`` (one stage, ``train``). Stages with
    0 epochs are left out; empty when unknown."""
    plan = OrderedDict()
    train_cfg = (cfg or {}).get('train_cfg') or {}
    if train_cfg.get('stages'):
        for name, spec in train_cfg['stages'].items():
            plan[name] = int(spec['epochs'] if isinstance(spec, dict)
                             else spec)
    elif any(f's{i}_epochs' in train_cfg for i in (1, 2, 3)):
        for i in (1, 2, 3):
            plan[f's{i}'] = int(train_cfg.get(f's{i}_epochs', 0))
    elif train_cfg.get('max_epochs'):
        plan['train'] = int(train_cfg['max_epochs'])
    return OrderedDict((k, v) for k, v in plan.items() if v > 0)


def teacher_kind(cfg, name: str) -> str:
    """'multimodal' or 'cross-modal' for a specialized teacher
    ``teacher:layer``: a member whose config names one ``modality`` is
    unimodal, i.e. a cross-modal teacher of the student; the others (the
    fusion net) are multimodal. Without a config: by the member's name."""
    teacher = name.split(':', 1)[0]
    members = ((cfg or {}).get('model') or {}).get('members') or {}
    member = members.get(teacher)
    if isinstance(member, dict):
        return 'cross-modal' if member.get('modality') else 'multimodal'
    return 'multimodal' if teacher in _MULTIMODAL_NAMES else 'cross-modal'


# -- routing (Fig. 4) ---------------------------------------------------------
def routing_data(work_dir: str) -> dict:
    """The routing statistics of a run's S3 epochs.

    Returns:
        dict: ``epochs`` (1-based, global), ``teachers``: ``{teacher:layer:
        dict(kind='multimodal'|'cross-modal', prob=[...], topk=[...])}``
        in logged order, ``lambda1`` and ``lambda2`` per epoch, and the
        routing diagnostics of RoutingStatsHook per epoch: ``entropy``
        (nats; ``log N`` is uniform) and ``best_ce_share`` (the share of
        samples routed to their lowest-CE teacher; chance ``1 / N``), None
        where not logged.

    Raises:
        UserInputError: the work dir holds no routing statistics.
    """
    routing = load_scalars(work_dir)['routing']
    epochs = sorted(e for e, row in routing.items()
                    if any(k.startswith('routing/prob/') for k in row))
    if not epochs:
        raise UserInputError(
            f'{work_dir}: no routing statistics in its scalars.json '
            '(expected routing/prob/<teacher:layer> and '
            'routing/topk/<teacher:layer> of the S3 epochs of an MST-Distill '
            'run with top-k routing)')
    names = []
    for e in epochs:
        for key in routing[e]:
            if key.startswith('routing/prob/') and key[13:] not in names:
                names.append(key[13:])
    cfg = run_config(work_dir)
    teachers = OrderedDict()
    for name in names:
        teachers[name] = dict(
            kind=teacher_kind(cfg, name),
            prob=[routing[e].get(f'routing/prob/{name}', float('nan'))
                  for e in epochs],
            topk=[routing[e].get(f'routing/topk/{name}', float('nan'))
                  for e in epochs])
    return dict(epochs=epochs, teachers=teachers,
                lambda1=[routing[e].get('routing/lambda1') for e in epochs],
                lambda2=[routing[e].get('routing/lambda2') for e in epochs],
                entropy=[routing[e].get('routing/entropy') for e in epochs],
                best_ce_share=[routing[e].get('routing/best_ce_share')
                               for e in epochs])


def plot_routing(data: dict, title: Optional[str] = None):
    """Fig. 4: mean routing probability (a) and top-k share (b) of every
    specialized teacher per S3 epoch, multimodal teachers solid, cross-modal
    dashed; with the diagnostics logged, (c) the routing entropy against
    ``log N`` (uniform: the gate routes nothing) and the best-CE share
    against chance ``1 / N``. Returns the figure (:data:`ROUTING_FIGSIZE`,
    :data:`ROUTING3_FIGSIZE` with panel (c))."""
    plt = _pyplot()
    entropy = [v for v in data.get('entropy') or [] if v is not None]
    panels = 3 if entropy else 2
    fig, axes = plt.subplots(
        1, panels, dpi=DPI,
        figsize=ROUTING3_FIGSIZE if entropy else ROUTING_FIGSIZE)
    colors = plt.get_cmap('tab10')
    epochs = data['epochs']
    for i, (name, info) in enumerate(data['teachers'].items()):
        style = '-' if info['kind'] == 'multimodal' else '--'
        for ax, key in zip(axes, ('prob', 'topk')):
            ax.plot(epochs, info[key], linestyle=style, marker='o',
                    markersize=4, color=colors(i % 10),
                    label=f'{name} ({info["kind"]})')
    for ax, ylabel in zip(axes, ('mean routing probability',
                                 'top-k share')):
        ax.set_ylabel(ylabel)
        ax.set_ylim(-0.02, 1.02)
    for ax in axes:
        ax.set_xlabel('epoch (S3)')
        ax.grid(True, alpha=0.3)
        if len(epochs) < 15:
            ax.set_xticks(epochs)
    axes[0].set_title('(a) mean routing probability')
    axes[1].set_title('(b) share of samples routed (top-k)')
    axes[1].legend(title='teacher:layer (solid: multimodal, dashed: '
                   'cross-modal)', fontsize='small', title_fontsize='small',
                   loc='best')
    if entropy:
        num = len(data['teachers'])
        ax = axes[2]
        ax.plot(epochs, [np.nan if v is None else v
                         for v in data['entropy']], marker='o',
                markersize=4, color='black', label='routing entropy')
        ax.axhline(np.log(num), color='black', linestyle=':',
                   label=f'uniform (ln {num} = {np.log(num):.3f})')
        ax.set_ylabel('entropy (nats)')
        ax.set_ylim(-0.02, np.log(num) * 1.1)
        shares = data.get('best_ce_share') or []
        if any(v is not None for v in shares):
            twin = ax.twinx()
            twin.plot(epochs, [np.nan if v is None else v for v in shares],
                      marker='s', markersize=4, color='tab:red',
                      label='best-CE share')
            twin.axhline(1 / num, color='tab:red', linestyle=':',
                         label=f'chance (1/{num})')
            twin.set_ylabel('share routed to the lowest-CE teacher',
                            color='tab:red')
            twin.set_ylim(-0.02, 1.02)
            twin.legend(fontsize='small', loc='lower right')
        ax.legend(fontsize='small', loc='lower left')
        ax.set_title('(c) does the gate route? entropy, best-CE share')
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


# -- curves -------------------------------------------------------------------
def curves_data(work_dir: str) -> dict:
    """Loss terms (mean over each epoch's logged values) and validation
    metrics per epoch, with the stage plan.

    Returns:
        dict: ``stages``: ``[dict(name, label, title, first_epoch,
        epochs)]`` (1-based first epoch), ``train``: ``{loss key: {epoch:
        value}}``, ``val``: ``{metric: {epoch: value}}``.
    """
    scalars = load_scalars(work_dir)
    if not scalars['train'] and not scalars['val']:
        raise UserInputError(
            f'{work_dir}: no training losses or validation metrics in its '
            'scalars.json (expected the work dir of a tools/train.py run '
            'with at least one logged epoch)')
    train: Dict[str, Dict[int, float]] = OrderedDict()
    for epoch in sorted(scalars['train']):
        for key, values in scalars['train'][epoch].items():
            if key.startswith('loss'):
                train.setdefault(key, {})[epoch] = float(np.mean(values))
    val: Dict[str, Dict[int, float]] = OrderedDict()
    for epoch in sorted(scalars['val']):
        for key, value in scalars['val'][epoch].items():
            val.setdefault(key, {})[epoch] = float(value)
    plan = stage_plan(run_config(work_dir))
    all_epochs = sorted(set(scalars['train']) | set(scalars['val']))
    if not plan:
        plan = OrderedDict(train=max(all_epochs))
    titles = stage_titles(work_dir)
    stages, first = [], 1
    for name, num in plan.items():
        label = stage_label(name)
        stages.append(dict(name=name, label=label,
                           title=titles.get(first, label),
                           first_epoch=first, epochs=num))
        first += num
    return dict(stages=stages, train=train, val=val)


def _stage_of(stages: List[dict], epoch: int) -> int:
    for i, stage in enumerate(stages):
        if epoch < stage['first_epoch'] + stage['epochs']:
            return i
    return len(stages) - 1


def _is_score(key: str) -> bool:
    """Metrics that are not losses/divergences (OA, F1, kappa, mIoU)."""
    lowered = key.lower()
    tokens = re.split(r'[^a-z0-9]+', lowered)
    return not ('loss' in lowered or
                any(t in ('ce', 'kl', 'nll') for t in tokens) or
                any(t.endswith('kl') for t in tokens))


def _axis_style(ax, values: List[float]) -> None:
    """Integer epoch ticks; a log y axis when the positive curves span
    more than two orders of magnitude (e.g. total loss vs. MaskNet KL)."""
    from matplotlib.ticker import MaxNLocator
    ax.xaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))
    values = [v for v in values if np.isfinite(v)]
    if values and min(values) > 0 and max(values) / min(values) > 100:
        ax.set_yscale('log')


def _mark_stages(ax, stages: List[dict]) -> None:
    for stage in stages[1:]:
        ax.axvline(stage['first_epoch'] - 0.5, color='grey',
                   linestyle=':', linewidth=1)
    for stage in stages:
        ax.text(stage['first_epoch'] - 0.45, 1.0, stage['label'],
                transform=ax.get_xaxis_transform(), va='top', ha='left',
                fontsize='small', color='grey')


def plot_curves(data: dict, title: Optional[str] = None,
                max_metrics: int = 10):
    """One panel per stage with its loss terms per epoch, and one panel of
    the validation metrics over all epochs (scores such as OA/F1 on the
    left axis, losses/divergences such as CE dashed on the right), stage
    boundaries as dotted vertical lines labelled S1/S2/S3 (or the stage
    names). The figure is ``CURVES_PANEL_SIZE[0] * (stages + 1)`` by
    ``CURVES_PANEL_SIZE[1]`` inches."""
    plt = _pyplot()
    stages = data['stages']
    n = len(stages) + 1
    fig, axes = plt.subplots(
        1, n, figsize=(CURVES_PANEL_SIZE[0] * n, CURVES_PANEL_SIZE[1]),
        dpi=DPI, squeeze=False)
    axes = axes[0]
    colors = plt.get_cmap('tab10')
    for i, stage in enumerate(stages):
        ax = axes[i]
        drawn, values = 0, []
        for key, per_epoch in data['train'].items():
            epochs = sorted(e for e in per_epoch
                            if _stage_of(stages, e) == i)
            if not epochs:
                continue
            values += [per_epoch[e] for e in epochs]
            ax.plot(epochs, [per_epoch[e] for e in epochs], marker='o',
                    markersize=3, color=colors(drawn % 10),
                    linewidth=2 if key == 'loss' else 1.2, label=key)
            drawn += 1
        ax.set_title(stage['title'], fontsize='medium')
        ax.set_xlabel('epoch')
        ax.set_ylabel('loss')
        ax.grid(True, alpha=0.3)
        last = stage['first_epoch'] + stage['epochs'] - 1
        ax.set_xlim(stage['first_epoch'] - 0.5, last + 0.5)
        _axis_style(ax, values)
        if drawn:
            ax.legend(fontsize='x-small')
        else:
            ax.text(0.5, 0.5, 'no losses logged', ha='center',
                    transform=ax.transAxes, color='grey')
    ax = axes[-1]
    scores = [k for k in data['val']
              if _is_score(k)][:max_metrics]
    others = [k for k in data['val'] if k not in scores][:max_metrics]
    handles = []
    for j, key in enumerate(scores):
        epochs = sorted(data['val'][key])
        handles += ax.plot(epochs, [data['val'][key][e] for e in epochs],
                           marker='o', markersize=3, color=colors(j % 10),
                           label=key)
    ax.set_ylabel('score')
    legend_ax = ax
    if others:
        twin = legend_ax = ax.twinx()
        for j, key in enumerate(others):
            epochs = sorted(data['val'][key])
            handles += twin.plot(
                epochs, [data['val'][key][e] for e in epochs], marker='x',
                markersize=3, linestyle='--',
                color=colors((len(scores) + j) % 10), label=key)
        twin.set_ylabel('loss / divergence (dashed)')
        _axis_style(twin, [v for k in others for v in data['val'][k].values()])
    first = stages[0]['first_epoch'] if stages else 1
    last = stages[-1]['first_epoch'] + stages[-1]['epochs'] - 1 \
        if stages else max([1] + [e for v in data['val'].values()
                                  for e in v])
    ax.set_xlim(first - 0.5, last + 0.5)
    _axis_style(ax, [])
    _mark_stages(ax, stages)
    ax.set_title('validation', fontsize='medium')
    ax.set_xlabel('epoch')
    ax.grid(True, alpha=0.3)
    if handles:
        legend_ax.legend(handles=handles, fontsize='x-small', loc='best',
                         framealpha=0.9)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


# -- confusion matrix ---------------------------------------------------------
def confusion_counts(labels: Sequence[int], preds: Sequence[int],
                     num_classes: int) -> np.ndarray:
    """``(C, C)`` int64 counts, rows = true class, columns = prediction."""
    labels = np.asarray(labels, dtype=np.int64).ravel()
    preds = np.asarray(preds, dtype=np.int64).ravel()
    return np.bincount(labels * num_classes + preds,
                       minlength=num_classes**2).reshape(
                           num_classes, num_classes)


def plot_confusion(counts: np.ndarray, classes: Sequence[str],
                   title: Optional[str] = None):
    """The confusion matrix, coloured by the row-normalised share (recall
    per true class), each cell annotated with its count (up to 30
    classes). Returns the figure (:data:`CONFUSION_FIGSIZE`)."""
    plt = _pyplot()
    counts = np.asarray(counts)
    totals = counts.sum(1, keepdims=True)
    share = counts / np.maximum(totals, 1)
    fig, ax = plt.subplots(figsize=CONFUSION_FIGSIZE, dpi=DPI)
    image = ax.imshow(share, cmap='Blues', vmin=0, vmax=1)
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04,
                 label='share of the true class')
    n = len(classes)
    if n <= 30:
        ax.set_xticks(range(n))
        ax.set_yticks(range(n))
        ax.set_xticklabels(classes, rotation=45 if n > 10 else 0,
                           ha='right' if n > 10 else 'center')
        ax.set_yticklabels(classes)
        for i in range(n):
            for j in range(n):
                ax.text(j, i, str(int(counts[i, j])), ha='center',
                        va='center', fontsize='x-small' if n > 12 else
                        'small',
                        color='white' if share[i, j] > 0.5 else 'black')
    ax.set_xlabel('predicted class')
    ax.set_ylabel('true class')
    oa = np.trace(counts) / max(counts.sum(), 1)
    ax.set_title(title or f'confusion matrix (OA {oa:.4f}, '
                 f'{int(counts.sum())} samples)', fontsize='medium')
    fig.tight_layout()
    return fig


# -- writing ------------------------------------------------------------------
def figure_to_array(fig) -> np.ndarray:
    """The figure as an ``(H, W, 3)`` uint8 RGB array."""
    fig.canvas.draw()
    return np.asarray(fig.canvas.buffer_rgba())[..., :3].copy()


def add_to_visualizer(image: np.ndarray, name: str, save_dir: str) -> None:
    """Write ``image`` through an mmengine :class:`Visualizer` with a
    ``LocalVisBackend`` (``<save_dir>/vis_data/vis_image/<name>_0.png``)
    and, when the ``tensorboard`` package is installed, a
    ``TensorboardVisBackend`` (``<save_dir>/vis_data/tf_logs``)."""
    from mmengine.visualization import Visualizer
    backends = [dict(type='LocalVisBackend')]
    if importlib.util.find_spec('tensorboard') is not None:
        backends.append(dict(type='TensorboardVisBackend'))
    visualizer = Visualizer(
        name=f'mstkd_plot_{name}_{os.getpid()}_{id(image)}',
        vis_backends=backends, save_dir=save_dir)
    visualizer.add_image(name, image)
    for backend in visualizer._vis_backends.values():
        backend.close()


def save_figure(fig, out: str, vis_dir: Optional[str] = None,
                name: Optional[str] = None) -> str:
    """Save ``fig`` as the PNG ``out`` (exactly the figure's size) and, with
    ``vis_dir``, through mmengine's visualizer (:func:`add_to_visualizer`);
    closes the figure and returns ``out``."""
    plt = _pyplot()
    os.makedirs(osp.dirname(osp.abspath(out)), exist_ok=True)
    fig.savefig(out, dpi=DPI)
    if vis_dir:
        add_to_visualizer(figure_to_array(fig),
                          name or osp.splitext(osp.basename(out))[0],
                          vis_dir)
    plt.close(fig)
    return out


def write_json(data, out: str) -> str:
    """Write ``data`` as indented JSON (numpy values as numbers)."""
    os.makedirs(osp.dirname(osp.abspath(out)), exist_ok=True)

    def default(value):
        if isinstance(value, np.ndarray):
            return value.tolist()
        if isinstance(value, np.generic):
            return value.item()
        raise TypeError(type(value).__name__)

    with open(out, 'w') as f:
        json.dump(data, f, indent=2, default=default)
    return out
