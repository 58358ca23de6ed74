"""Extract the distilled student of a checkpoint as a deployable artifact.

    python tools/model_converters/extract_student.py CKPT OUT [--torchscript] [--onnx]

CKPT is any checkpoint of an mstkd run (MST-Distill, a baseline, or a
member run); OUT gets the student's weights alone (weights-only loadable)
with its config in ``meta['cfg']``, and OUT with ``.py`` the config that
tests it::

    python tools/test.py OUT.py OUT        # the same metrics as CKPT

(``configs/members/<dataset>_<modality>.py`` tests it too.) Both file sizes
are printed. ``--torchscript`` also writes ``OUT`` with
``.torchscript.pt`` (``logits = f(x)`` on the student's modality tensor,
traced on one test sample and checked against the eager model); ``--onnx``
writes ``.onnx`` when the ``onnx`` package is installed.
"""
import argparse
import importlib.util
import os.path as osp

import torch

from mstkd.apis.export import save_student
from mstkd.utils.cli import run_tool
from mstkd.utils.errors import UserInputError


def parse_args():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument('checkpoint')
    parser.add_argument('out', help='the student checkpoint to write (.pth)')
    parser.add_argument('--torchscript', action='store_true')
    parser.add_argument('--onnx', action='store_true')
    return parser.parse_args()


def _example(config: str):
    """The student model (eval) and one test sample's inputs."""
    from mmengine.config import Config
    from mmengine.dataset import default_collate

    from mstkd.apis.inference import init_model
    from mstkd.registry import DATASETS
    model = init_model(config, None)
    cfg = Config.fromfile(config)
    dataset = DATASETS.build(cfg.test_dataloader.dataset)
    data = model.data_preprocessor(default_collate([dataset[0]]), False)
    return model, data['inputs']


class TensorInput(torch.nn.Module):
    """The student as ``logits = f(x)`` on its modality's tensor (the
    exported graphs take a tensor, not a dict)."""

    def __init__(self, net, modality: str):
        super().__init__()
        self.net = net
        self.modality = modality

    def forward(self, x):
        return self.net({self.modality: x})


def _traceable(model):
    if type(model).__name__ != 'MemberClassifier':
        raise UserInputError(
            f'--torchscript/--onnx export classification students '
            f'(MemberClassifier); this student is a '
            f'{type(model).__name__}.')
    return TensorInput(model.member, model.member.modality).eval()


def main():
    args = parse_args()
    info = save_student(args.checkpoint, args.out)
    print(f'student "{info["target"]}": {info["parameters"]:,} parameters '
          f'in {info["tensors"]} tensors')
    print(f'{args.checkpoint}: {info["source_bytes"] / 2**20:.2f} MiB')
    print(f'{info["out"]}: {info["out_bytes"] / 2**20:.2f} MiB '
          f'(config: {info["config"]})')
    if not (args.torchscript or args.onnx):
        return
    model, inputs = _example(info['config'])
    model.load_state_dict(torch.load(args.out, weights_only=True)[
        'state_dict'])
    net = _traceable(model)
    x = inputs[net.modality]
    stem = osp.splitext(args.out)[0]
    with torch.no_grad():
        eager = net(x)
    if args.torchscript:
        traced = torch.jit.trace(net, (x, ))
        path = stem + '.torchscript.pt'
        traced.save(path)
        with torch.no_grad():
            again = torch.jit.load(path)(x)
        err = float((again - eager).abs().max())
        print(f'{path}: {osp.getsize(path) / 2**20:.2f} MiB, input: the '
              f'{net.modality} tensor {tuple(x.shape)} (max |traced - '
              f'eager| on a test sample: {err:.2e})')
    if args.onnx:
        if importlib.util.find_spec('onnx') is None:
            print('--onnx: the onnx package is not installed '
                  '(pip install onnx); no .onnx written.')
            return
        path = stem + '.onnx'
        torch.onnx.export(net, (x, ), path, input_names=[net.modality],
                          output_names=['logits'], dynamo=False)
        print(f'{path}: {osp.getsize(path) / 2**20:.2f} MiB (input: '
              f'{net.modality})')


if __name__ == '__main__':
    run_tool(main)
