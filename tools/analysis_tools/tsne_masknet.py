"""t-SNE of a teacher feature before and after its MaskNet (paper Fig. 10).

    python tools/analysis_tools/tsne_masknet.py CONFIG CKPT
        [--teacher NAME [--layer PATH] | --all] [--split test]
        [--max-samples 1000] [--out DIR] [--method auto|sklearn|exact]
        [--seed 0] [--perplexity 30] [--n-iter 1000] [--run-seed S]
        [--device cpu] [--non-strict] [--no-visualizer]
        [--cfg-options k=v ...]

An MST-Distill specialized teacher is a (teacher, layer) pair: the MaskNet
``masknets[<teacher>__<layer>]`` replaces the output Z of the layer by
``MaskNet(Z) = Z * mask(Z)`` (Eq. 6). CKPT must hold trained MaskNets: a
checkpoint of the run saved after at least one S2 epoch (``s2_end.pth``,
``s3_end.pth``, ``epoch_N.pth`` past S1; slim checkpoints read their
MaskNets back from ``s2_end.pth``). ``s1_end.pth`` (untrained MaskNets) and
the best-student checkpoints (``best_*.pth``: no MaskNets) fail in one line
that says so.

For every chosen specialized teacher (``--teacher mm --layer fusion.fc1``,
``--teacher mm:fusion.fc1``, every layer of ``--teacher mm``, or ``--all``,
the default) the split's samples (at most ``--max-samples``, a seeded
random subset) run through the base teacher (eval mode); the hooked
layer's output is recorded before the MaskNet and after it (feature x
mask), flattened per sample (a map ``(C, H, W)`` gives ``C*H*W`` values).
Each set is reduced to 50 principal components and embedded in 2-D by
t-SNE: scikit-learn's TSNE when installed (``--method auto``, the default,
or ``sklearn``), otherwise (or ``--method exact``) the built-in exact t-SNE
of ``mstkd/visualization/tsne.py`` (deterministic for ``--seed``, fine for
<= 2000 points). The method that ran is printed.

Writes per specialized teacher ``DIR/tsne_<teacher>__<layer>.png`` (two
panels, before / after the MaskNet, coloured by class, 1300 x 600 px) and
``.json`` beside it: ``N``, the separability scores (leave-one-out 5-NN
accuracy in the 2-D embedding, ``knn_2d``, and in the feature space,
``knn_feature``), the mask statistics, the S2 progress of the checkpoint,
the embeddings and labels. DIR defaults to ``<CKPT dir>/tsne_<CKPT name>``.
Unless ``--no-visualizer``, every image also goes through mmengine's
visualizer (``DIR/vis_data/vis_image/tsne_<teacher>__<layer>_0.png``).
"""
import os.path as osp
from typing import Dict, List

import numpy as np
import torch
from mmengine.config import DictAction
from mmengine.dataset import default_collate

from mstkd.apis import init_model
from mstkd.registry import DATASETS
from mstkd.utils.checkpoint import EXTERNAL_STATE, PARTIAL_STATE
from mstkd.utils.checkpoint_match import (check_checkpoint_fits,
                                          checkpoint_state_dict,
                                          read_checkpoint)
from mstkd.utils.cli import doc_parser, run_tool
from mstkd.utils.errors import UserInputError
from mstkd.utils.run_config import load_run_config
from mstkd.visualization.plots import save_figure, write_json
from mstkd.visualization.tsne import (effective_perplexity, embed,
                                      knn_accuracy, pca, plot_tsne_panels,
                                      resolve_method)

SPLITS = ('test', 'val', 'train')
PCA_DIMS = 50
KNN_K = 5
USE = ('use s2_end.pth or a later checkpoint of the run (s3_end.pth, '
       'epoch_N.pth after S1)')


# -- choosing the specialized teachers ----------------------------------------
def choose_teachers(model, teacher=None, layer=None, all_=False) -> list:
    """The :class:`SpecializedTeacher` s named on the command line; a wrong
    name fails listing the valid ``teacher:layer`` pairs."""
    specs = [s for s in model.specialized if s.path is not None]
    valid = ', '.join(s.name for s in specs)
    if all_ or teacher is None:
        if layer is not None:
            raise UserInputError('--layer needs --teacher (valid specialized'
                                 f' teachers: {valid}).')
        return specs
    if layer is None and ':' in teacher:
        teacher, layer = teacher.split(':', 1)
    chosen = [s for s in specs if s.teacher == teacher and
              (layer is None or s.path == layer)]
    if not chosen:
        what = f'{teacher}:{layer}' if layer is not None else teacher
        raise UserInputError(
            f'"{what}" is not a specialized teacher of this config; valid '
            f'(--teacher NAME --layer PATH): {valid}.')
    return chosen


# -- does the checkpoint hold trained MaskNets? -------------------------------
def masknet_progress(ckpt: dict, path: str, stage: str = 's2') -> dict:
    """``dict(epochs_done, epochs)`` of the MaskNet stage at the time the
    checkpoint was saved (None where the checkpoint does not record its
    stage plan); fails when it holds no trained MaskNets."""
    meta = ckpt.get('meta') or {}
    state = checkpoint_state_dict(ckpt)
    refs = meta.get(EXTERNAL_STATE) or {}
    held = any(k.startswith('masknets.') for k in state) or any(
        p.startswith('masknets') for ref in refs.values()
        for p in ref.get('prefixes', ()))
    if not held:
        partial = meta.get(PARTIAL_STATE)
        why = ' (a best checkpoint keeps only the student)' if partial \
            else ''
        raise UserInputError(f'{path} holds no MaskNets{why}; {USE}.')
    plan, epoch = meta.get('stage_epochs'), meta.get('epoch')
    if not isinstance(plan, dict) or stage not in plan or epoch is None:
        return dict(epochs_done=None, epochs=None)
    start = 0
    for name, num in plan.items():
        if name == stage:
            break
        start += int(num)
    done = min(max(int(epoch) - start, 0), int(plan[stage]))
    if done == 0:
        raise UserInputError(
            f'{path} was saved after epoch {epoch}, before any S2 epoch '
            f'(stages {dict(plan)}): its MaskNets are untrained; {USE}.')
    return dict(epochs_done=done, epochs=int(plan[stage]))


# -- features -----------------------------------------------------------------
def batch_labels(samples) -> torch.Tensor:
    if isinstance(samples, dict) and 'gt_label' in samples:
        return samples['gt_label'].flatten()
    if isinstance(samples, (list, tuple)) and samples and \
            hasattr(samples[0], 'gt_label'):
        return torch.cat([s.gt_label for s in samples]).flatten()
    raise UserInputError(
        'tsne_masknet.py is for classification configs (samples with '
        'gt_label); this split has none (segmentation?).')


def subset(num: int, max_samples: int, seed: int) -> List[int]:
    """Every index, or a seeded random subset of ``max_samples`` (sorted)."""
    if max_samples <= 0 or num <= max_samples:
        return list(range(num))
    rng = np.random.RandomState(seed)
    return sorted(rng.choice(num, max_samples, replace=False).tolist())


def batches(model, dataset, indices: List[int], batch_size: int):
    """Preprocessed batches ``(inputs, labels)`` of ``dataset[indices]``."""
    for i in range(0, len(indices), batch_size):
        batch = default_collate(
            [dataset[j] for j in indices[i:i + batch_size]])
        data = model.data_preprocessor(batch, False)
        yield data['inputs'], batch_labels(data['data_samples']).cpu()


@torch.no_grad()
def extract_features(model, dataset, indices: List[int], specs,
                     batch_size: int = 32) -> Dict[str, dict]:
    """Per specialized teacher (``spec.key``): ``before`` (the hooked
    layer's output, ``(N, D)`` flattened), ``after`` (its MaskNet's output,
    ``before * mask``), ``mask`` (``(N, C)``); plus ``labels`` ``(N,)``.

    One forward of every base teacher per batch, the layers recorded by
    plain forward hooks (the teacher itself runs unmasked); the first call
    of a layer called several times is taken."""
    from mstkd.models.task_modules.layer_paths import validate_layer_paths
    by_teacher: Dict[str, list] = {}
    for spec in specs:
        by_teacher.setdefault(spec.teacher, []).append(spec)
    out = {s.key: dict(before=[], after=[], mask=[]) for s in specs}
    labels = []
    for inputs, gt in batches(model, dataset, indices, batch_size):
        labels.append(gt)
        for teacher, group in by_teacher.items():
            net = model.members[teacher]
            modules = validate_layer_paths(net, [s.path for s in group])
            seen: Dict[str, torch.Tensor] = {}
            handles = [
                modules[s.path].register_forward_hook(
                    lambda m, a, o, p=s.path: seen.setdefault(p, o))
                for s in group]
            try:
                net(model.member_inputs(teacher, inputs))
            finally:
                for handle in handles:
                    handle.remove()
            for spec in group:
                z = seen[spec.path]
                if not isinstance(z, torch.Tensor):
                    raise UserInputError(
                        f'{spec.name}: the layer returns a '
                        f'{type(z).__name__}, not a tensor.')
                masknet = model.masknets[spec.key]
                rec = out[spec.key]
                rec['before'].append(z.flatten(1).float().cpu())
                rec['after'].append(masknet(z).flatten(1).float().cpu())
                rec['mask'].append(masknet.mask(z).float().cpu())
    result = {key: {k: torch.cat(v).numpy() for k, v in rec.items()}
              for key, rec in out.items()}
    result['labels'] = torch.cat(labels).numpy().astype(np.int64)
    return result


# -- the command --------------------------------------------------------------
def load_model(args):
    """The config's MSTDistill with its MaskNets built (from one batch of
    the split) and the checkpoint loaded; ``(model, cfg, dataset, ckpt)``."""
    cfg = load_run_config(args.config, args.cfg_options, seed=args.run_seed)
    ckpt = read_checkpoint(args.checkpoint)
    model = init_model(cfg, None, device=args.device)
    if not hasattr(model, 'masknets') or not hasattr(model, 'specialized'):
        raise UserInputError(
            f'{args.config}: the model is {type(model).__name__}, not '
            'MSTDistill: it has no MaskNets.')
    if not model.use_masknets:
        raise UserInputError(f'{args.config}: model.use_masknets=False (S2 '
                             'skipped): the run has no MaskNets.')
    loader = cfg.get(f'{args.split}_dataloader')
    if not loader:
        raise UserInputError(f'{args.config} has no {args.split}_dataloader.')
    dataset = DATASETS.build(loader.dataset)
    if len(dataset) == 0:
        raise UserInputError(f'{args.config}: the {args.split} split is '
                             'empty.')
    progress = masknet_progress(ckpt, args.checkpoint, model.masknet_stage)
    inputs, _ = next(batches(model, dataset, [0, min(1, len(dataset) - 1)],
                             2))
    model.build_masknets(inputs)  # the weights of the checkpoint fit
    check_checkpoint_fits(model, cfg.model, args.checkpoint,
                          strict=not args.non_strict, ckpt=ckpt)
    return model.eval(), cfg, dataset, progress


def scores(features: np.ndarray, embedding: np.ndarray,
           labels: np.ndarray) -> dict:
    return dict(knn_2d=knn_accuracy(embedding, labels, KNN_K),
                knn_feature=knn_accuracy(features, labels, KNN_K))


def main():
    parser = doc_parser(__doc__)
    parser.add_argument('config', help='the config the checkpoint was '
                        'trained with')
    parser.add_argument('checkpoint', help='checkpoint with trained '
                        'MaskNets (s2_end.pth or later)')
    parser.add_argument('--teacher', help='base teacher (member) name, or '
                        'teacher:layer')
    parser.add_argument('--layer', help='its MaskNet layer path')
    parser.add_argument('--all', action='store_true',
                        help='every specialized teacher (the default)')
    parser.add_argument('--split', default='test', choices=SPLITS)
    parser.add_argument('--max-samples', type=int, default=1000,
                        help='at most this many samples (seeded random '
                        'subset; <= 0: all)')
    parser.add_argument('--out', help='output folder (default: '
                        '<CKPT dir>/tsne_<CKPT name>)')
    parser.add_argument('--method', default='auto',
                        choices=('auto', 'sklearn', 'exact'))
    parser.add_argument('--seed', type=int, default=0,
                        help='seed of t-SNE and of the sample subset')
    parser.add_argument('--perplexity', type=float, default=30.0)
    parser.add_argument('--n-iter', type=int, default=1000)
    parser.add_argument('--run-seed', type=int, default=None,
                        help='run seed: split group of the dataset (the '
                        'training one, as tools/test.py --seed)')
    parser.add_argument('--batch-size', type=int, default=32)
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--non-strict', action='store_true',
                        help='accept a checkpoint that does not fit the '
                        'config, with a warning')
    parser.add_argument('--no-visualizer', action='store_true',
                        help="do not also write through mmengine's "
                        'visualizer')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override settings of the config, key=value '
                        'pairs')
    args = parser.parse_args()
    if args.perplexity <= 1:
        raise UserInputError(f'--perplexity must be > 1, got '
                             f'{args.perplexity}.')
    method = resolve_method(args.method)
    model, _, dataset, progress = load_model(args)
    specs = choose_teachers(model, args.teacher, args.layer, args.all)
    indices = subset(len(dataset), args.max_samples, args.seed)
    if len(indices) < 6:
        raise UserInputError(f'the {args.split} split has {len(indices)} '
                             'samples; t-SNE needs at least 6.')
    classes = list(getattr(dataset, 'metainfo', {}).get('classes') or ())
    out_dir = args.out or osp.join(
        osp.dirname(osp.abspath(args.checkpoint)),
        'tsne_' + osp.splitext(osp.basename(args.checkpoint))[0])
    print(f't-SNE method: {method}' + (' (scikit-learn TSNE)' if method ==
                                       'sklearn' else ' (built-in exact)'))
    groups: Dict[str, list] = {}
    for spec in specs:  # one base teacher's features in memory at a time
        groups.setdefault(spec.teacher, []).append(spec)
    for group in groups.values():
        feats = extract_features(model, dataset, indices, group,
                                 args.batch_size)
        labels = feats.pop('labels')
        if len(classes) <= int(labels.max()):
            classes = [str(i) for i in range(int(labels.max()) + 1)]
        for spec in group:
            figure(spec, feats.pop(spec.key), labels, classes, indices,
                   method, progress, out_dir, args)


def figure(spec, rec: dict, labels: np.ndarray, classes: List[str],
           indices: List[int], method: str, progress: dict, out_dir: str,
           args) -> None:
    """Embed, score and draw one specialized teacher; write its PNG and
    JSON (and the image through the visualizer)."""
    panels, result = [], {}
    for which, title in (('before', 'before MaskNet'),
                         ('after', 'after MaskNet (feature x mask)')):
        x = rec[which]
        emb, _ = embed(pca(x, PCA_DIMS), method, args.perplexity,
                       args.n_iter, args.seed)
        sc = scores(x, emb, labels)
        result[which] = dict(sc, embedding=emb)
        panels.append(dict(
            embedding=emb,
            title=f'{title}\n{KNN_K}-NN acc: {sc["knn_2d"]:.3f} (2-D), '
            f'{sc["knn_feature"]:.3f} (feature space)'))
    mask = rec['mask']
    change = np.linalg.norm(rec['after'] - rec['before'], axis=1) / \
        np.maximum(np.linalg.norm(rec['before'], axis=1), 1e-12)
    phase = '' if progress['epochs_done'] is None else \
        f', S2 epoch {progress["epochs_done"]}/{progress["epochs"]}'
    fig = plot_tsne_panels(
        panels, labels, classes,
        title=f'{spec.name}: t-SNE of {len(labels)} {args.split} samples '
        f'({osp.basename(args.checkpoint)}{phase}, {method})')
    png = osp.join(out_dir, f'tsne_{spec.key}.png')
    save_figure(fig, png, None if args.no_visualizer else out_dir,
                name=f'tsne_{spec.key}')
    data = dict(
        teacher=spec.teacher, layer=spec.path, name=spec.name,
        config=args.config, checkpoint=args.checkpoint, split=args.split,
        N=int(len(labels)), feature_dim=int(rec['before'].shape[1]),
        method=method, perplexity=args.perplexity,
        effective_perplexity=effective_perplexity(args.perplexity,
                                                  len(labels)),
        n_iter=args.n_iter, seed=args.seed, pca_dims=PCA_DIMS, knn_k=KNN_K,
        s2_epochs_done=progress['epochs_done'],
        s2_epochs=progress['epochs'], classes=classes,
        scores={w: {k: v for k, v in result[w].items() if k != 'embedding'}
                for w in result},
        mask=dict(mean=float(mask.mean()), std=float(mask.std()),
                  min=float(mask.min()), max=float(mask.max()),
                  relative_change=float(change.mean())),
        labels=labels, sample_indices=indices,
        embedding={w: result[w]['embedding'] for w in result})
    json_out = write_json(data, osp.splitext(png)[0] + '.json')
    b, a = data['scores']['before'], data['scores']['after']
    print(f'{spec.name}: {len(labels)} samples, {KNN_K}-NN acc before '
          f'{b["knn_feature"]:.3f} (2-D {b["knn_2d"]:.3f}), after '
          f'{a["knn_feature"]:.3f} (2-D {a["knn_2d"]:.3f}), mean mask '
          f'{data["mask"]["mean"]:.3f}: {png} (numbers: {json_out})')

if __name__ == '__main__':
    run_tool(main)
