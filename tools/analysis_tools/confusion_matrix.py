"""Per-class confusion matrix of a checkpoint's student on the test split.

    python tools/analysis_tools/confusion_matrix.py CONFIG CKPT
        [--out PNG] [--seed S] [--non-strict] [--cfg-options k=v ...]

Builds the config's model, loads CKPT (strictly, as tools/test.py: a
checkpoint of another model or student fails), and runs the student over
``test_dataloader.dataset``: for a multi-member config (MST-Distill, the
baselines) the ``model.target`` member alone, for a member config
(``MemberClassifier``) ``model(inputs, mode='tensor')``. The prediction is
the argmax of the logits, as tools/test.py's OA. Writes the PNG (default
``<CKPT without .pth>_confusion.png``, 700 x 600 px, cells coloured by the
share of the true class and labelled with the counts) and a JSON beside it
(``.json``): ``classes``, ``counts`` (rows = true class, columns =
prediction), ``num_samples``, ``OA`` (diagonal / total), ``per_class_acc``,
``config``, ``checkpoint``. Classification only.
"""
import os.path as osp

import torch
from mmengine.config import DictAction
from mmengine.dataset import default_collate

from mstkd.registry import DATASETS, MODELS
from mstkd.utils import register_all_modules
from mstkd.utils.checkpoint_match import check_checkpoint_fits
from mstkd.utils.cli import doc_parser, run_tool
from mstkd.utils.errors import UserInputError
from mstkd.utils.run_config import load_run_config
from mstkd.visualization.plots import (confusion_counts, plot_confusion,
                                       save_figure, write_json)


def predict(model, dataset, batch_size: int = 32):
    """``(labels, predictions)`` of the student over ``dataset``."""
    if hasattr(model, 'members'):
        student = model.members[model.target]
    else:

        def student(inputs):
            return model(inputs, mode='tensor')

    labels, preds = [], []
    with torch.no_grad():
        for i in range(0, len(dataset), batch_size):
            batch = default_collate([
                dataset[j]
                for j in range(i, min(i + batch_size, len(dataset)))])
            data = model.data_preprocessor(batch, False)
            samples = data['data_samples']
            if isinstance(samples, dict) and 'gt_label' in samples:
                gt = samples['gt_label']
            elif isinstance(samples, (list, tuple)) and samples and \
                    hasattr(samples[0], 'gt_label'):
                gt = torch.cat([s.gt_label for s in samples])
            else:
                raise UserInputError(
                    'confusion_matrix.py is for classification configs '
                    '(test samples with gt_label); this config\'s test '
                    'samples have none (segmentation?).')
            logits = student(data['inputs'])
            labels.append(gt.flatten().cpu())
            preds.append(logits.argmax(1).flatten().cpu())
    return torch.cat(labels).numpy(), torch.cat(preds).numpy()


def main():
    parser = doc_parser(__doc__)
    parser.add_argument('config', help='the config the checkpoint was '
                        'trained with (or its student member config)')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--out', help='PNG to write (default: the '
                        'checkpoint path with _confusion.png)')
    parser.add_argument('--seed', type=int, default=None,
                        help='run seed: split group of the test set (use '
                        'the training one, as for tools/test.py)')
    parser.add_argument('--non-strict', action='store_true',
                        help='accept a checkpoint that does not fit the '
                        'config, with a warning')
    parser.add_argument('--batch-size', type=int, default=32)
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override settings of the config, key=value '
                        'pairs')
    args = parser.parse_args()
    register_all_modules(init_default_scope=True)
    if not osp.isfile(args.checkpoint):
        raise UserInputError(f'Checkpoint not found: {args.checkpoint}')
    cfg = load_run_config(args.config, args.cfg_options, seed=args.seed)
    model = MODELS.build(cfg.model).eval()
    check_checkpoint_fits(model, cfg.model, args.checkpoint,
                          strict=not args.non_strict)
    dataset = DATASETS.build(cfg.test_dataloader.dataset)
    if len(dataset) == 0:
        raise UserInputError(f'{args.config}: the test split is empty.')
    labels, preds = predict(model, dataset, args.batch_size)
    classes = list(getattr(dataset, 'metainfo', {}).get('classes') or ())
    num_classes = max(len(classes), int(labels.max()) + 1,
                      int(preds.max()) + 1)
    if len(classes) < num_classes:
        classes = [str(i) for i in range(num_classes)]
    counts = confusion_counts(labels, preds, num_classes)
    total = int(counts.sum())
    oa = float(counts.trace()) / total
    rows = counts.sum(1)
    out = args.out or osp.splitext(args.checkpoint)[0] + '_confusion.png'
    fig = plot_confusion(
        counts, classes,
        title=f'{osp.basename(args.checkpoint)}: OA {oa:.4f} on {total} '
        'test samples')
    save_figure(fig, out)
    json_out = write_json(
        dict(classes=classes, counts=counts.tolist(), num_samples=total,
             OA=oa, per_class_acc=[
                 float(counts[i, i] / rows[i]) if rows[i] else None
                 for i in range(num_classes)],
             config=args.config, checkpoint=args.checkpoint),
        osp.splitext(out)[0] + '.json')
    print(f'confusion matrix of {total} test samples (OA {oa:.4f}): {out} '
          f'(counts: {json_out})')


if __name__ == '__main__':
    run_tool(main)
