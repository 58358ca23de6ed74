"""Predict one input with a distilled student.

    python demo/inference_demo.py demo/samples/avdigits_test1_digit5.png
    python demo/inference_demo.py demo/samples/avdigits_test1_digit5.wav
    python demo/inference_demo.py INPUT --config CFG --checkpoint CKPT

An image is read by the image student, a WAV by the audio student. Without
``--checkpoint`` the students that ``make demo`` exports are used
(``demo/out/students/mst_avdigits_{image,audio}_student.pth``, seed 0).
"""
import argparse
import os.path as osp
import sys

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, REPO)

from mstkd.apis import inference_model, init_model  # noqa: E402
from mstkd.utils.cli import run_tool  # noqa: E402
from mstkd.utils.errors import DataNotFoundError  # noqa: E402

STUDENTS = osp.join(REPO, 'demo', 'out', 'students')


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('input', help='an image (.png) or a 16-bit .wav')
    parser.add_argument('--config', default=None,
                        help='default: the exported student\'s config')
    parser.add_argument('--checkpoint', default=None)
    args = parser.parse_args()
    modality = 'audio' if args.input.lower().endswith('.wav') else 'image'
    checkpoint = args.checkpoint or osp.join(
        STUDENTS, f'mst_avdigits_{modality}_student.pth')
    config = args.config or osp.splitext(checkpoint)[0] + '.py'
    if not osp.isfile(checkpoint) or not osp.isfile(config):
        raise DataNotFoundError(
            f'no student at {checkpoint} (+ {osp.basename(config)}): run '
            '`make demo` first (it exports one), or pass --config and '
            '--checkpoint.')
    model = init_model(config, checkpoint)
    result = inference_model(model, args.input)
    top = sorted(range(len(result['probs'])),
                 key=lambda i: -result['probs'][i])[:3]
    print(f'{args.input}: {result["modality"]} student predicts class '
          f'{result["pred_class"]} (p = {result["pred_score"]:.3f}); top 3: '
          + ', '.join(f'{i}: {result["probs"][i]:.3f}' for i in top))


if __name__ == '__main__':
    run_tool(main)
