"""Predict one input with a distilled student.

    python demo/inference_demo.py demo/samples/avdigits_test1_digit5.png
    python demo/inference_demo.py demo/samples/avdigits_test1_digit5.wav
    python demo/inference_demo.py INPUT --config CFG --checkpoint CKPT
    # NYU-Depth-V2 segmentation (a FuseNet member / student / MST run)
    python demo/inference_demo.py RGB.png [--depth D.png|D.npy] \\
        --config configs/mst/mst_nyu_rgb.py --checkpoint CKPT [--out seg.png]

An image is read by the image student, a WAV by the audio student. Without
``--checkpoint`` the students that ``make demo`` exports are used
(``demo/out/students/mst_avdigits_{image,audio}_student.pth``, seed 0).

With a segmentation model the colourised label map is written as a PNG
(``--out``, default ``demo/out/<input name>_seg.png``) and its path, the
image size and the classes covering most pixels are printed. The RGB image
is an 8-bit colour image, the depth map a 16-bit PNG (millimetres) or a
``.npy`` (metres), as the NYU-Depth-V2 converter writes them; the depth
student needs only ``--depth``, the RGB student only the image, FuseNet
both. The RGB statistics of the set are read from ``--nyu-meta`` (a
``meta.json`` or its folder; default the config's ``data_root``), else
0..255 per channel is used.
"""
import argparse
import os.path as osp
import sys

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, REPO)

from mstkd.apis import (class_shares, inference_model, init_model,  # noqa
                        is_segmentation_model, save_segmentation_png)
from mstkd.utils.cli import run_tool  # noqa: E402
from mstkd.utils.errors import DataNotFoundError, UserInputError  # noqa: E402

STUDENTS = osp.join(REPO, 'demo', 'out', 'students')


def segment(model, args):
    """The NYU-Depth-V2 path: write the colourised label map, print it."""
    result = inference_model(model, args.input, depth=args.depth,
                             nyu_meta=args.nyu_meta)
    stem = osp.splitext(osp.basename(args.input or args.depth))[0]
    out = args.out or osp.join(REPO, 'demo', 'out', f'{stem}_seg.png')
    save_segmentation_png(result['pred_sem_seg'], out, result['palette'])
    h, w = result['pred_sem_seg'].shape
    top = class_shares(result['pred_sem_seg'], result['classes'], top=5)
    print(f'{out}: {h}x{w} (H x W) segmentation by the '
          f'{result["modality"]} model '
          f'({result["probs_shape"][0]} classes); top classes by pixel '
          'share: ' + ', '.join(f'{name} {100 * share:.1f}%'
                                for _, name, share in top))
    if result.get('rgb_stats', {}).get('source', '').startswith('default'):
        print('note: no NYU meta.json found (--nyu-meta): RGB normalised '
              'with 0..255 per channel, not the set\'s min/max.')


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('input', nargs='?', default=None,
                        help='an image (.png) or a 16-bit .wav; for NYU '
                        'segmentation the RGB image')
    parser.add_argument('--config', default=None,
                        help='default: the exported student\'s config')
    parser.add_argument('--checkpoint', default=None)
    parser.add_argument('--depth', default=None,
                        help='NYU segmentation: the depth map (16-bit .png '
                        'in millimetres or .npy in metres)')
    parser.add_argument('--out', default=None,
                        help='NYU segmentation: the PNG to write (default '
                        'demo/out/<input name>_seg.png)')
    parser.add_argument('--nyu-meta', default=None,
                        help='NYU segmentation: meta.json (or its folder) '
                        'with the RGB min/max of the set')
    args = parser.parse_args()
    nyu = args.depth is not None or args.out is not None or \
        args.nyu_meta is not None
    if nyu and args.checkpoint is None:
        raise UserInputError(
            '--depth/--out/--nyu-meta are for the NYU-Depth-V2 '
            'segmentation models: pass --config and --checkpoint too.')
    if args.input is None and args.depth is None:
        raise UserInputError('give an input file (an image or a .wav; for '
                             'NYU segmentation an RGB image and/or --depth).')
    modality = 'audio' if (args.input or '').lower().endswith('.wav') \
        else 'image'
    checkpoint = args.checkpoint or osp.join(
        STUDENTS, f'mst_avdigits_{modality}_student.pth')
    config = args.config or osp.splitext(checkpoint)[0] + '.py'
    if not osp.isfile(checkpoint) or not osp.isfile(config):
        if args.config is not None:
            missing = checkpoint if not osp.isfile(checkpoint) else config
            raise DataNotFoundError(f'not found: {missing}')
        raise DataNotFoundError(
            f'no student at {checkpoint} (+ {osp.basename(config)}): run '
            '`make demo` first (it exports one), or pass --config and '
            '--checkpoint.')
    model = init_model(config, checkpoint)
    if is_segmentation_model(model):
        segment(model, args)
        return
    if nyu:
        raise UserInputError(
            f'{config} is a classification model: --depth/--out/--nyu-meta '
            'are for the NYU-Depth-V2 segmentation models.')
    if args.input is None:
        raise UserInputError('give an input file (an image or a .wav).')
    result = inference_model(model, args.input)
    top = sorted(range(len(result['probs'])),
                 key=lambda i: -result['probs'][i])[:3]
    print(f'{args.input}: {result["modality"]} student predicts class '
          f'{result["pred_class"]} (p = {result["pred_score"]:.3f}); top 3: '
          + ', '.join(f'{i}: {result["probs"][i]:.3f}' for i in top))


if __name__ == '__main__':
    run_tool(main)
