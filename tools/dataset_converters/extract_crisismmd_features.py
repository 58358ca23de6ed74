"""Extract the CrisisMMD-V2 features: ResNet-50 image + BERTweet text.

    python tools/dataset_converters/extract_crisismmd_features.py \\
        CrisisMMD_v2.0 -o data/CMMD-V2/CMMD_data.pth \\
        --image-weights checkpoints/resnet50-0676ba61.pth \\
        --text-model checkpoints/bertweet-base

Reads crisismmd_datasplit_all/task_humanitarian_text_img_{dev,test,train}.tsv
and the images under CrisisMMD_v2.0, and writes torch.save((image_features
[N,2048] float32, text_features [N,768] float32, labels [N] int64)).

Weights are LOCAL files, never downloaded: --image-weights is a torchvision
resnet50 state dict (ImageNet); --text-model is a folder holding a
save_pretrained copy of vinai/bertweet-base (needs `pip install
transformers`, and `pip install emoji nltk` for the release's tweet
normalisation). --text-encoder MODULE:FUNCTION plugs in any other text
encoder: FUNCTION() returns a callable list[str] -> tensor [B, D].
--random-init (tests only) builds randomly initialised networks instead.
"""
import importlib

from mstkd.datasets.converters.crisismmd import (build_release_text_preprocess,
                                                 convert_crisismmd)
from mstkd.datasets.converters.features import (build_bertweet_encoder,
                                                build_resnet50_trunk,
                                                require_transformers)
from mstkd.utils.cli import doc_parser, run_tool
from mstkd.utils.errors import UserInputError


def parse_args():
    parser = doc_parser(__doc__)
    parser.add_argument('root', help='the CrisisMMD_v2.0 folder')
    parser.add_argument('-o', '--out', required=True,
                        help='output file, e.g. data/CMMD-V2/CMMD_data.pth')
    parser.add_argument('--image-weights',
                        help='torchvision resnet50 state dict (local file)')
    parser.add_argument('--text-model',
                        help='local Hugging Face folder of BERTweet-base')
    parser.add_argument(
        '--text-encoder', metavar='MODULE:FUNCTION',
        help='a factory returning a text encoder (list[str] -> [B, D]) to '
        'use instead of --text-model')
    parser.add_argument(
        '--no-text-normalization', action='store_true',
        help='feed the raw tweet text to the BERTweet tokenizer (skip the '
        "release's ftfy / emoji / BERTweet normalisation)")
    parser.add_argument(
        '--random-init', action='store_true',
        help='random weights where no weight file is given (tests only: '
        'the features are meaningless)')
    parser.add_argument('--image-size', type=int, default=224)
    parser.add_argument('--max-length', type=int, default=128,
                        help='token limit of the text encoder (default 128)')
    parser.add_argument('--batch-size', type=int, default=32)
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--limit', type=int, default=None,
                        help='only the first N tweets (a trial run)')
    return parser.parse_args()


def load_factory(spec: str):
    """``'pkg.module:function'`` -> ``function()``."""
    if ':' not in spec:
        raise UserInputError(
            f'--text-encoder {spec!r}: expected MODULE:FUNCTION.')
    module, func = spec.split(':', 1)
    try:
        factory = getattr(importlib.import_module(module), func)
    except (ImportError, AttributeError) as e:
        raise UserInputError(f'--text-encoder {spec!r}: {e}')
    return factory()


def build_text_encoder(args):
    if (args.text_model is None) == (args.text_encoder is None):
        raise UserInputError(
            'Give exactly one text encoder: --text-model DIR (a local '
            'BERTweet-base folder) or --text-encoder MODULE:FUNCTION.')
    if args.text_encoder is not None:
        return load_factory(args.text_encoder)
    require_transformers()
    preprocess = None if args.no_text_normalization else \
        build_release_text_preprocess()
    return build_bertweet_encoder(
        args.text_model,
        random_init=args.random_init,
        device=args.device,
        max_length=args.max_length,
        preprocess=preprocess)


def main():
    args = parse_args()
    if args.image_weights is None and not args.random_init:
        raise UserInputError(
            'No image weights: pass --image-weights PATH (a torchvision '
            'resnet50 ImageNet state dict, e.g. resnet50-0676ba61.pth; '
            'nothing is downloaded), or --random-init for a test run with '
            'meaningless features.')
    text_encoder = build_text_encoder(args)
    image_net = build_resnet50_trunk(args.image_weights)
    info = convert_crisismmd(
        args.root,
        args.out,
        image_net,
        text_encoder,
        image_size=args.image_size,
        batch_size=args.batch_size,
        device=args.device,
        limit=args.limit)
    print(f"wrote {args.out}: {info['num_samples']} samples, image "
          f"{info['image_dim']}-d, text {info['text_dim']}-d, class counts "
          f"{info['class_counts']}")


if __name__ == '__main__':
    run_tool(main)
