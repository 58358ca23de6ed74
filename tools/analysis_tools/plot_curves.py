"""Plot the loss terms and validation metrics of a run per epoch.

    python tools/analysis_tools/plot_curves.py WORK_DIR [--out PNG]
        [--no-visualizer]

Reads ``WORK_DIR/<timestamp>/vis_data/scalars.json`` (all timestamp
folders of a resumed run) and the stage plan from the run's config dump
(``train_cfg.s1_epochs..s3_epochs`` of MSTDistillLoop, ``stages`` of
MultiStageTrainLoop, else one stage). Draws one panel per stage with its
loss terms (the mean of each epoch's logged values; ``loss`` is the total)
and one panel with the validation metrics over all epochs (scores such as
OA/AA/F1/kappa on the left axis; CE and the S2 MaskNet KL dashed on the
right), the stage boundaries as dotted vertical lines labelled S1/S2/S3 (or
the stage names). Writes the PNG (default ``WORK_DIR/curves.png``, 450 px
wide per panel, 400 px high), the plotted numbers beside it (``.json``)
and, unless ``--no-visualizer``, the image through mmengine's visualizer
(``WORK_DIR/vis_data/vis_image/curves_0.png`` by a LocalVisBackend;
TensorBoard too when installed).
"""
import os.path as osp

from mstkd.utils.cli import doc_parser, run_tool
from mstkd.visualization.plots import (curves_data, plot_curves,
                                       save_figure, write_json)


def main():
    parser = doc_parser(__doc__)
    parser.add_argument('work_dir', help='work dir of a tools/train.py run')
    parser.add_argument('--out', help='PNG to write (default: '
                        'WORK_DIR/curves.png)')
    parser.add_argument('--no-visualizer', action='store_true',
                        help="do not also write through mmengine's "
                        'visualizer')
    args = parser.parse_args()
    data = curves_data(args.work_dir)
    out = args.out or osp.join(args.work_dir, 'curves.png')
    name = osp.basename(osp.abspath(args.work_dir))
    fig = plot_curves(data, title=f'Training curves: {name}')
    vis_dir = None if args.no_visualizer else args.work_dir
    save_figure(fig, out, vis_dir, name='curves')
    data_out = write_json(data, osp.splitext(out)[0] + '.json')
    stages = ', '.join(f'{s["label"]} (epochs {s["first_epoch"]}-'
                       f'{s["first_epoch"] + s["epochs"] - 1})'
                       for s in data['stages'])
    print(f'{len(data["train"])} loss terms and {len(data["val"])} '
          f'validation metrics, stages {stages}: {out} (numbers: '
          f'{data_out})')


if __name__ == '__main__':
    run_tool(main)
