"""Convert the raw RAVDESS speech release to ``RAVDESS_preprocessed_npy``.

    python tools/dataset_converters/ravdess.py RAW_DIR \\
        -o data/RAVDESS_preprocessed_npy

RAW_DIR holds the unpacked ``Video_Speech_Actor_XX.zip`` (``01-*.mp4``) and
``Audio_Speech_Actors_01-24.zip`` (``03-*.wav``) archives, e.g. one
``Actor_XX`` folder per actor. Writes ``video_data.npy`` [N,15,3,224,224]
uint8 (BGR face crops), ``audio_data.npy`` [N,15,156] float32 (15 MFCCs of
3.6 s at 22.05 kHz) and ``label_data.npy`` [N] int64 (emotion code - 1).
See docs/datasets.md and mstkd/datasets/converters/ravdess.py for details.
"""
from mstkd.datasets.converters.face_crop import HaarFaceDetector
from mstkd.datasets.converters.ravdess import (FRAME_SAMPLINGS,
                                               VOCAL_CHANNELS,
                                               convert_ravdess)
from mstkd.utils.cli import doc_parser, run_tool


def parse_args():
    parser = doc_parser(__doc__)
    parser.add_argument('raw_dir', help='the unpacked raw RAVDESS release')
    parser.add_argument('-o', '--out-dir', required=True,
                        help='output folder (RAVDESS_preprocessed_npy)')
    parser.add_argument('--frame-size', type=int, default=224,
                        help='side of the face crops (default 224)')
    parser.add_argument(
        '--frame-sampling', choices=sorted(FRAME_SAMPLINGS), default='stride',
        help="'stride': frames 3, 10, ..., 101 (default); 'release': the "
        "release script's 3, 10, 17, 24, 31, 39, ..., 103")
    parser.add_argument('--vocal-channel', choices=sorted(VOCAL_CHANNELS),
                        default='speech',
                        help='speech (default, the benchmark) or song')
    parser.add_argument(
        '--pad-short-videos', action='store_true',
        help='use black frames when a video is too short (the release '
        'does) instead of stopping with an error')
    parser.add_argument(
        '--stft-pad-mode', choices=('constant', 'reflect'),
        default='constant',
        help='MFCC STFT padding: constant = librosa >= 0.10 (default), '
        'reflect = librosa < 0.10')
    parser.add_argument('--detect-max-side', type=int, default=640,
                        help='face detection runs on frames shrunk to this '
                        'longer side (default 640)')
    parser.add_argument('--limit', type=int, default=None,
                        help='convert only the first N samples (a trial run)')
    return parser.parse_args()


def main():
    args = parse_args()
    detector = HaarFaceDetector(detect_max_side=args.detect_max_side)
    info = convert_ravdess(
        args.raw_dir,
        args.out_dir,
        detector,
        frame_size=args.frame_size,
        frame_sampling=args.frame_sampling,
        vocal_channel=args.vocal_channel,
        pad_short_videos=args.pad_short_videos,
        pad_mode=args.stft_pad_mode,
        limit=args.limit)
    print(f"wrote {info['num_samples']} samples to {args.out_dir} "
          f"(frames {info['frame_indices']})")
    print(f"faces found in {info['faces_found']}/{info['frames_total']} "
          'frames')
    if info['no_face_videos']:
        names = ', '.join(info['no_face_videos'][:10])
        print(f"no face in {len(info['no_face_videos'])} videos (centred "
              f'square crop used): {names}')


if __name__ == '__main__':
    run_tool(main)
