"""Check a download of the MultiBench AV-MNIST files before training on it.

    python tools/dataset_converters/check_av_mnist.py DATA_ROOT

``DATA_ROOT`` is the ``avmnist`` folder of MultiBench's AV-MNIST release
(https://github.com/pliang279/MultiBench, "AV-MNIST": the ``avmnist.tar.gz``
archive its README links), which the MST-Distill benchmark reads as is:

- ``image/{train,test}_data.npy``: MNIST digits, 28x28 flattened to 784
  values, with 75% of their energy removed by PCA (low-quality images);
- ``audio/{train,test}_data.npy``: 112x112 spectrograms of spoken digits
  mixed with ESC-50 environmental noise. MultiBench describes the speech as
  the Free Spoken Digit Dataset (FSDD); the MST-Distill paper's appendix,
  after AV-MNIST's authors (CentralNet, Vielzeuf et al. 2018), names
  TIDIGITS (25,102 utterances);
- ``{train,test}_labels.npy``: the digit, 0..9.

The tool checks the file names, shapes (image ``[N, 784]``, audio
``[N, 112, 112]``), dtypes (numbers), label ranges (integers 0..9), that the
files of a part agree on N and that N is 60,000 (train) and 10,000 (test)
(``--counts`` changes the expected counts). It reads only the array headers
and the labels. Prints a report; exits 0 when all is well, 1 with the list
of problems otherwise, 2 when DATA_ROOT is not a folder.
"""
import argparse
import os.path as osp
import sys

from mstkd.datasets.av_mnist import LAYOUT, PARTS, inspect_av_mnist


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog='Expected layout:\n' + LAYOUT)
    parser.add_argument('data_root', help='the avmnist folder')
    parser.add_argument('--counts',
                        type=int,
                        nargs=2,
                        default=(60000, 10000),
                        metavar=('TRAIN', 'TEST'),
                        help='expected samples of the train and test parts '
                        '(default: 60000 10000)')
    args = parser.parse_args(argv)
    if not osp.isdir(args.data_root):
        print(
            f'error: {args.data_root} is not a folder.\nExpected layout:\n'
            f'{LAYOUT}',
            file=sys.stderr)
        return 2
    counts = dict(zip(PARTS, args.counts))
    problems, report = inspect_av_mnist(args.data_root, counts=counts)
    print(f'AV-MNIST at {args.data_root}')
    for part in PARTS:
        info = report[part]
        print(f'  {part} (expected {counts[part]} samples):')
        for m in ('image', 'audio'):
            if m in info:
                print(f'    {m:6s} shape {info[m]["shape"]} dtype '
                      f'{info[m]["dtype"]}')
        if 'labels' in info:
            print(f'    labels shape {info["labels"]["shape"]}, per class '
                  f'{info["labels"]["class_counts"]}')
    if problems:
        print(f'{len(problems)} problem(s):')
        for p in problems:
            print(f'  - {p}')
        print(f'Expected layout:\n{LAYOUT}')
        return 1
    print('OK: the files match the MultiBench AV-MNIST release layout.')
    return 0


if __name__ == '__main__':
    sys.exit(main())
