"""Plot the routing statistics of an MST-Distill run (paper Fig. 4).

    python tools/analysis_tools/plot_routing.py WORK_DIR [--out PNG]
        [--no-visualizer]

Reads ``WORK_DIR/<timestamp>/vis_data/scalars.json`` (the
``routing/prob/<teacher:layer>`` and ``routing/topk/<teacher:layer>``
scalars that RoutingStatsHook logs after every S3 epoch) and draws two
panels: (a) the mean routing probability and (b) the share of samples
routed to (top-k) every specialized teacher per S3 epoch; multimodal
teachers solid, cross-modal dashed (from the members of the run's config
dump), the legend names each teacher:layer. Writes the PNG (default
``WORK_DIR/routing.png``, 1200 x 450 px), the plotted numbers beside it
(``.json``) and, unless ``--no-visualizer``, the image through mmengine's
visualizer (``WORK_DIR/vis_data/vis_image/routing_0.png`` by a
LocalVisBackend; TensorBoard too
when installed). Exits with status 2 when the work dir has no routing
statistics (no S3 epoch finished, or ``routing='mean'``).
"""
import os.path as osp

from mstkd.utils.cli import doc_parser, run_tool
from mstkd.visualization.plots import (plot_routing, routing_data,
                                       save_figure, write_json)


def main():
    parser = doc_parser(__doc__)
    parser.add_argument('work_dir', help='work dir of a tools/train.py run')
    parser.add_argument('--out', help='PNG to write (default: '
                        'WORK_DIR/routing.png)')
    parser.add_argument('--no-visualizer', action='store_true',
                        help="do not also write through mmengine's "
                        'visualizer')
    args = parser.parse_args()
    data = routing_data(args.work_dir)
    out = args.out or osp.join(args.work_dir, 'routing.png')
    name = osp.basename(osp.abspath(args.work_dir))
    fig = plot_routing(data, title=f'Routing statistics: {name}')
    vis_dir = None if args.no_visualizer else args.work_dir
    save_figure(fig, out, vis_dir, name='routing')
    data_out = write_json(data, osp.splitext(out)[0] + '.json')
    print(f'routing of {len(data["teachers"])} specialized teachers over '
          f'S3 epochs {data["epochs"][0]}-{data["epochs"][-1]}: {out} '
          f'(numbers: {data_out})')


if __name__ == '__main__':
    run_tool(main)
