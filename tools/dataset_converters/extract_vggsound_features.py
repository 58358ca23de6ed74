"""Extract the VGGSound-50k features: VGG19 visual + VGGish audio per second.

    python tools/dataset_converters/extract_vggsound_features.py \\
        clips.csv CLIP_DIR -o data/VGGS50K \\
        --visual-weights checkpoints/vgg19-dcbb9e9d.pth \\
        --audio-weights checkpoints/vggish-10086976.pth \\
        [--audio-pca checkpoints/vggish_pca_params-970ea276.pth] \\
        [--seg-labels vggsound-avel50k_labels.json]

clips.csv has a header 'name,class_id'; CLIP_DIR holds {name}.mp4 and (or
--audio-dir holds) {name}.wav, the clip's audio as a PCM wav, e.g.
`ffmpeg -i {name}.mp4 -vn -acodec pcm_s16le {name}.wav` (without a wav the
audio is decoded from the video, which needs `pip install torchcodec`).

Writes, under the output folder (VGGS50K):
  VGGS50k_metadata.txt                      lines {name}&{class_id}
  VGGS50K_features/{visual,audio}_features/ raw features
  VGGS50K_features_normed/visual_features/{name}_vFeature.npy [10,7,7,512]
  VGGS50K_features_normed/audio_features/{name}_aFeature.npy  [10,128]
  seg_labels/{name}_sLabel.npy              [1,10] (with --seg-labels)
The normed features are the raw ones min-max scaled with ONE global minimum
and maximum per modality over all clips of this run.

Weights are LOCAL files, never downloaded: a torchvision vgg19 state dict
and a VGGish state dict (torchvggish or torchaudio-prototype key names).
--random-init (tests only) builds randomly initialised networks instead.
"""
from mstkd.datasets.converters.features import build_vgg19_trunk
from mstkd.datasets.converters.vggish import (VGGish, VGGishPostprocessor,
                                              load_vggish_weights)
from mstkd.datasets.converters.vggsound import convert_vggsound
from mstkd.utils.cli import doc_parser, run_tool
from mstkd.utils.errors import UserInputError


def parse_args():
    parser = doc_parser(__doc__)
    parser.add_argument('clips_csv', help="CSV with header 'name,class_id'")
    parser.add_argument('clip_dir', help='folder of the {name}.mp4 videos')
    parser.add_argument('-o', '--out-dir', required=True,
                        help='output folder (VGGS50K)')
    parser.add_argument('--audio-dir',
                        help='folder of {name}.wav (default: CLIP_DIR)')
    parser.add_argument('--visual-weights',
                        help='torchvision vgg19 state dict (local file)')
    parser.add_argument('--audio-weights',
                        help='VGGish state dict (local file)')
    parser.add_argument(
        '--audio-pca',
        help='VGGish PCA parameters (vggish_pca_params-970ea276.pth): '
        'PCA-whiten and 8-bit quantise the embeddings as the AudioSet '
        'release; without it the raw 128-d embeddings are kept')
    parser.add_argument('--seg-labels',
                        help='JSON of per-second 0/1 labels (module doc of '
                        'mstkd/datasets/converters/vggsound.py)')
    parser.add_argument(
        '--random-init', action='store_true',
        help='random weights where no weight file is given (tests only: '
        'the features are meaningless)')
    parser.add_argument('--seconds', type=int, default=10,
                        help='seconds per clip (default 10)')
    parser.add_argument(
        '--frames-per-second', type=int, default=16,
        help='frames averaged per second (default 16: the paper, following '
        'AVEL; 1 takes the middle frame of every second)')
    parser.add_argument('--image-size', type=int, default=224)
    parser.add_argument('--batch-size', type=int, default=32)
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--resume', action='store_true',
                        help='reuse raw feature files of an interrupted run')
    parser.add_argument('--remove-raw', action='store_true',
                        help='delete VGGS50K_features/ after normalising')
    return parser.parse_args()


def main():
    args = parse_args()
    if not args.random_init and (args.visual_weights is None
                                 or args.audio_weights is None):
        raise UserInputError(
            'Weights missing: pass --visual-weights PATH (a torchvision vgg19 '
            'ImageNet state dict, e.g. vgg19-dcbb9e9d.pth) and '
            '--audio-weights PATH (VGGish, e.g. torchvggish\'s '
            'vggish-10086976.pth); nothing is downloaded. --random-init runs '
            'with random networks (tests only).')
    visual_net = build_vgg19_trunk(args.visual_weights)
    audio_net = VGGish()
    if args.audio_weights is not None:
        load_vggish_weights(audio_net, args.audio_weights)
    post = VGGishPostprocessor.from_file(args.audio_pca) \
        if args.audio_pca else None
    info = convert_vggsound(
        args.clips_csv,
        args.clip_dir,
        args.out_dir,
        visual_net,
        audio_net.eval(),
        postprocessor=post,
        audio_dir=args.audio_dir,
        seg_labels=args.seg_labels,
        seconds=args.seconds,
        per_second=args.frames_per_second,
        image_size=args.image_size,
        batch_size=args.batch_size,
        device=args.device,
        resume=args.resume,
        keep_raw=not args.remove_raw)
    print(f"wrote {info['num_clips']} clips to {args.out_dir}; raw ranges: "
          f"visual {info['visual_range']}, audio {info['audio_range']}")
    if args.seg_labels:
        print(f"per-second labels for {info['seg_labels']} clips")
    if info['short_videos']:
        print(f"{len(info['short_videos'])} videos shorter than "
              f"{args.seconds} s (last frame repeated): "
              f"{', '.join(info['short_videos'][:10])}")
    if info['short_audio']:
        print(f"{len(info['short_audio'])} audio tracks shorter than "
              f"{args.seconds} s (zeros appended): "
              f"{', '.join(info['short_audio'][:10])}")


if __name__ == '__main__':
    run_tool(main)
