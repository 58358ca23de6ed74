"""Raw RAVDESS speech release -> ``RAVDESS_preprocessed_npy`` (the layout of
the MST-Distill release).

Per sample (one audio-visual ``01-*.mp4`` and its audio-only ``03-*.wav``):

* **video**: 15 frames (indices below), the largest face of each frame
  (:mod:`.face_crop`, OpenCV Haar cascade; the release uses MTCNN) resized to
  224x224, BGR uint8, stored ``[15, 3, 224, 224]``.
* **audio**: the wav as mono, resampled to 22,050 Hz (``kaiser_best``),
  fixed to 3.6 s (zeros appended, or the excess trimmed equally from both
  ends), then 15 MFCCs computed as ``librosa.feature.mfcc(y, sr=22050,
  n_mfcc=15)`` does (see :func:`build_mfcc`): ``[15, 156]`` float32.
* **label**: emotion code (filename field 3, 1..8) minus 1, int64.

Samples are ordered by actor, then file name: the order of the release
(its ``os.walk`` over ``Actor_01`` .. ``Actor_24``), so that the release's
``metadata/RAVDESS_indices.csv`` applies to the output.

Frame indices: :data:`FRAME_SAMPLINGS`. ``'stride'`` (default) takes 3, 10,
17, ..., 101 (every 7th frame from 3, the indices of ``docs/datasets.md``);
``'release'`` takes the release script's ``select_distributed(15, 108)``
(``i * 108 // 15 + 3``: 3, 10, 17, 24, 31, 39, ..., 96, 103), whose spacing
alternates between 7 and 8 frames.
"""
import os
import os.path as osp
import re
from typing import Callable, Dict, List, NamedTuple, Optional, Sequence

import numpy as np
import torch

from mstkd.utils.errors import DataNotFoundError, UserInputError
from .audio_io import fix_length, load_audio, resample, to_mono
from .face_crop import Detector, crop_faces
from .video_io import read_frames

SAMPLE_RATE = 22050
DURATION = 3.6
NUM_SAMPLES = int(SAMPLE_RATE * DURATION)  # 79,380
NUM_FRAMES = 15
N_MFCC = 15
#: librosa.feature.mfcc defaults (librosa.feature.melspectrogram / stft).
N_FFT = 2048
HOP_LENGTH = 512
N_MELS = 128
#: 1 + 79,380 // 512 centred frames.
MFCC_FRAMES = 1 + NUM_SAMPLES // HOP_LENGTH  # 156

EMOTIONS = ('neutral', 'calm', 'happy', 'sad', 'angry', 'fearful', 'disgust',
            'surprised')
VOCAL_CHANNELS = dict(speech='01', song='02')


def _stride_indices(n: int) -> List[int]:
    return [3 + 7 * i for i in range(n)]


def _release_indices(n: int, span: int = 108) -> List[int]:
    # select_distributed(m, n) = [i * n // m + n // (2 * m)] with n = 3.6 s
    # at 30 fps = 108 frames.
    return [i * span // n + span // (2 * n) for i in range(n)]


FRAME_SAMPLINGS: Dict[str, Callable[[int], List[int]]] = dict(
    stride=_stride_indices, release=_release_indices)

NAME_RE = re.compile(r'^(\d\d)-(\d\d)-(\d\d)-(\d\d)-(\d\d)-(\d\d)-(\d\d)'
                     r'\.(mp4|wav)$', re.IGNORECASE)

LAYOUT = """\
RAW_DIR/                       (any folder structure below RAW_DIR works)
  Actor_01/
    01-01-01-01-01-01-01.mp4   audio-visual video (Video_Speech_Actor_01.zip)
    ...                        02-*.mp4 (video-only) files are ignored
    03-01-01-01-01-01-01.wav   audio only (Audio_Speech_Actors_01-24.zip)
    ...
  ...
  Actor_24/
File names: modality-channel-emotion-intensity-statement-repetition-actor,
modality 01 = audio-visual, 03 = audio-only; channel 01 = speech."""


class RavdessSample(NamedTuple):
    """One audio-visual sample of the raw release."""
    video: str  # the 01-*.mp4
    audio: str  # the matching 03-*.wav
    label: int  # emotion code - 1
    actor: int


def frame_indices(sampling: str = 'stride',
                  num_frames: int = NUM_FRAMES) -> List[int]:
    """The frame numbers taken from each video.

    Args:
        sampling (str): A key of :data:`FRAME_SAMPLINGS`.
        num_frames (int): How many frames. Defaults to 15.

    Returns:
        list[int]: 0-based frame indices, increasing.
    """
    if sampling not in FRAME_SAMPLINGS:
        raise UserInputError(f'Unknown frame sampling {sampling!r}; choose '
                             f'one of {sorted(FRAME_SAMPLINGS)}.')
    return FRAME_SAMPLINGS[sampling](num_frames)


def parse_name(filename: str) -> Optional[List[str]]:
    """The seven two-digit fields of a RAVDESS file name (``None`` when the
    name does not follow the convention)."""
    m = NAME_RE.match(osp.basename(filename))
    return list(m.groups()[:7]) if m else None


def find_samples(raw_dir: str,
                 vocal_channel: str = 'speech') -> List[RavdessSample]:
    """Pair every audio-visual ``01-*.mp4`` with its audio-only ``03-*.wav``.

    The wav has the same identifiers except the modality field (01 -> 03);
    it may lie in any folder below ``raw_dir``.

    Args:
        raw_dir (str): The unpacked RAVDESS release (see :data:`LAYOUT`).
        vocal_channel (str): ``'speech'`` (the 1,440 samples of the
            benchmark) or ``'song'``.

    Returns:
        list[RavdessSample]: Sorted by actor, then video file name.

    Raises:
        DataNotFoundError: ``raw_dir`` is missing, holds no matching video,
            or a video has no wav.
    """
    if not osp.isdir(raw_dir):
        raise DataNotFoundError(
            f'RAVDESS raw folder not found: {raw_dir}\nExpected layout:\n'
            f'{LAYOUT}')
    channel = VOCAL_CHANNELS[vocal_channel]
    videos, wavs = {}, {}
    for root, dirs, files in os.walk(raw_dir):
        dirs.sort()
        for name in sorted(files):
            fields = parse_name(name)
            if fields is None or fields[1] != channel:
                continue
            key = '-'.join(fields[1:])
            ext = name.lower().rsplit('.', 1)[1]
            if fields[0] == '01' and ext == 'mp4':
                videos.setdefault(key, osp.join(root, name))
            elif fields[0] == '03' and ext == 'wav':
                wavs.setdefault(key, osp.join(root, name))
    if not videos:
        raise DataNotFoundError(
            f'No audio-visual RAVDESS videos (01-{channel}-*.mp4) found '
            f'under {raw_dir}.\nExpected layout:\n{LAYOUT}')
    missing = sorted(k for k in videos if k not in wavs)
    if missing:
        shown = '\n  '.join(f'{videos[k]} -> 03-{k}.wav' for k in missing[:5])
        more = f'\n  ... and {len(missing) - 5} more' if len(missing) > 5 \
            else ''
        raise DataNotFoundError(
            f'{len(missing)} RAVDESS videos have no audio-only wav (same '
            f'name with modality 03) under {raw_dir}:\n  {shown}{more}\n'
            'Unpack Audio_Speech_Actors_01-24.zip into the same folder.\n'
            f'Expected layout:\n{LAYOUT}')
    samples = []
    for key, video in videos.items():
        fields = key.split('-')  # channel, emotion, ..., actor
        emotion = int(fields[1])
        if not 1 <= emotion <= len(EMOTIONS):
            raise UserInputError(
                f'{video}: emotion code {emotion} is not in 1..8.')
        samples.append(
            RavdessSample(video, wavs[key], emotion - 1, int(fields[-1])))
    samples.sort(key=lambda s: (s.actor, osp.basename(s.video)))
    return samples


def build_mfcc(pad_mode: str = 'constant') -> torch.nn.Module:
    """The MFCC transform matching ``librosa.feature.mfcc(sr=22050,
    n_mfcc=15)`` with librosa's defaults.

    ``torchaudio.transforms.MFCC(sample_rate=22050, n_mfcc=15, dct_type=2,
    norm='ortho', log_mels=False)`` with mel spectrogram ``n_fft=2048,
    win_length=2048, hop_length=512`` (periodic Hann window),
    ``center=True``, ``power=2``, ``n_mels=128``, ``f_min=0``,
    ``f_max=11025``, Slaney mel scale and Slaney area normalisation; then
    10 log10(max(S, 1e-10)) with an 80 dB floor below the clip's maximum
    (librosa's ``power_to_db(ref=1, top_db=80)``) and an orthonormal DCT-II.
    3.6 s at 22,050 Hz gives 1 + 79,380 // 512 = 156 frames.

    Differences from librosa: computed in float32 (librosa builds its
    filterbank in float64), and ``pad_mode`` must be chosen: librosa >= 0.10
    pads the centred STFT with zeros (``'constant'``, the default here),
    librosa < 0.10 reflects (``'reflect'``).

    Args:
        pad_mode (str): STFT padding at both ends. Defaults to 'constant'.

    Returns:
        torch.nn.Module: Waveforms ``[..., 1, L]`` -> MFCCs
        ``[..., 1, 15, frames]`` (keep the singleton channel: torchaudio
        applies ``top_db`` over the last three dimensions, which then is one
        clip).
    """
    import torchaudio.transforms as T
    return T.MFCC(
        sample_rate=SAMPLE_RATE,
        n_mfcc=N_MFCC,
        dct_type=2,
        norm='ortho',
        log_mels=False,
        melkwargs=dict(
            n_fft=N_FFT,
            win_length=N_FFT,
            hop_length=HOP_LENGTH,
            f_min=0.0,
            f_max=SAMPLE_RATE / 2,
            n_mels=N_MELS,
            window_fn=torch.hann_window,
            power=2.0,
            center=True,
            pad_mode=pad_mode,
            norm='slaney',
            mel_scale='slaney'))


def compute_mfcc(waveforms: torch.Tensor,
                 transform: Optional[torch.nn.Module] = None) -> torch.Tensor:
    """MFCCs of 22.05 kHz waveforms, each clip on its own dB scale.

    Args:
        waveforms (torch.Tensor): ``[B, L]`` or ``[L]`` float.
        transform (torch.nn.Module, optional): From :func:`build_mfcc`.

    Returns:
        torch.Tensor: ``[B, 15, 1 + L // 512]`` (or ``[15, ...]``) float32.
    """
    transform = transform or build_mfcc()
    single = waveforms.dim() == 1
    x = waveforms.reshape(-1, 1, waveforms.shape[-1]).to(torch.float32)
    with torch.no_grad():
        out = transform(x)[:, 0]
    return out[0] if single else out


def load_ravdess_audio(path: str) -> torch.Tensor:
    """A wav as the release prepares it: mono, 22,050 Hz, exactly 3.6 s.

    Args:
        path (str): A ``03-*.wav``.

    Returns:
        torch.Tensor: ``[79380]`` float32.
    """
    waveform, rate = load_audio(path)
    mono = to_mono(waveform)
    return fix_length(resample(mono, rate, SAMPLE_RATE), NUM_SAMPLES,
                      trim='center')


def load_ravdess_frames(path: str,
                        indices: Sequence[int],
                        pad_short: bool = False) -> List[np.ndarray]:
    """The frames at ``indices`` of one video (BGR uint8).

    Args:
        path (str): A ``01-*.mp4``.
        indices (Sequence[int]): Frame numbers.
        pad_short (bool): When the video is too short, use black frames for
            the missing ones (what the release does) instead of failing.

    Returns:
        list[np.ndarray]: ``len(indices)`` frames ``[H, W, 3]``.

    Raises:
        UserInputError: The video has fewer than ``max(indices) + 1`` frames
            and ``pad_short`` is False.
    """
    frames, count = read_frames(path, indices)
    missing = [i for i in indices if i not in frames]
    if missing:
        if not pad_short or not frames:
            raise UserInputError(
                f'{path} has {count} frames; frame {missing[0]} is needed '
                f'(frames {list(indices)}). Check the file, or pass '
                '--pad-short-videos to use black frames for the missing ones '
                '(as the release does).')
        shape = next(iter(frames.values())).shape
        for i in missing:
            frames[i] = np.zeros(shape, np.uint8)
    return [frames[i] for i in indices]


def convert_ravdess(raw_dir: str,
                    out_dir: str,
                    detector: Detector,
                    frame_size: int = 224,
                    frame_sampling: str = 'stride',
                    vocal_channel: str = 'speech',
                    pad_short_videos: bool = False,
                    pad_mode: str = 'constant',
                    limit: Optional[int] = None,
                    log: Callable[[str], None] = print) -> Dict[str, object]:
    """Write ``video_data.npy``, ``audio_data.npy`` and ``label_data.npy``.

    The arrays are written row by row into memory-mapped ``.npy`` files
    (``np.lib.format.open_memmap``), under temporary names renamed at the
    end, so the ~3.3 GB video array is never held in memory and an
    interrupted run leaves no file that looks complete.

    Args:
        raw_dir (str): The raw release (see :data:`LAYOUT`).
        out_dir (str): The output folder (``RAVDESS_preprocessed_npy``).
        detector (Callable): Face detector, e.g.
            :class:`~.face_crop.HaarFaceDetector`.
        frame_size (int): Side of the face crops. Defaults to 224.
        frame_sampling (str): ``'stride'`` or ``'release'`` (module doc).
        vocal_channel (str): ``'speech'`` or ``'song'``.
        pad_short_videos (bool): Black frames for videos that are too short
            instead of an error.
        pad_mode (str): STFT padding of the MFCC (:func:`build_mfcc`).
        limit (int, optional): Convert only the first ``limit`` samples.
        log (Callable): Progress messages.

    Returns:
        dict: ``num_samples``, ``frame_indices``, ``no_face_videos`` (names
        of videos cropped with the centred fallback), ``faces_found``
        (frames with a detection) and ``frames_total``.
    """
    samples = find_samples(raw_dir, vocal_channel)
    if limit is not None:
        samples = samples[:limit]
    indices = frame_indices(frame_sampling)
    n = len(samples)
    os.makedirs(out_dir, exist_ok=True)
    shapes = dict(
        video_data=((n, len(indices), 3, frame_size, frame_size), np.uint8),
        audio_data=((n, N_MFCC, MFCC_FRAMES), np.float32),
        label_data=((n, ), np.int64))
    parts = {key: osp.join(out_dir, f'{key}.npy.part') for key in shapes}
    arrays = {
        key: np.lib.format.open_memmap(
            parts[key], mode='w+', dtype=dtype, shape=shape)
        for key, (shape, dtype) in shapes.items()
    }
    mfcc = build_mfcc(pad_mode)
    no_face, found = [], 0
    try:
        for i, sample in enumerate(samples):
            frames = load_ravdess_frames(sample.video, indices,
                                         pad_short_videos)
            crops, detected = crop_faces(frames, detector, frame_size)
            if detected == 0:
                no_face.append(osp.basename(sample.video))
            found += detected
            arrays['video_data'][i] = crops
            arrays['audio_data'][i] = compute_mfcc(
                load_ravdess_audio(sample.audio), mfcc).numpy()
            arrays['label_data'][i] = sample.label
            if (i + 1) % 50 == 0 or i + 1 == n:
                log(f'[{i + 1}/{n}] {osp.basename(sample.video)}')
        for arr in arrays.values():
            arr.flush()
    except BaseException:
        arrays.clear()
        for path in parts.values():
            os.remove(path)
        raise
    arrays.clear()  # closes the memory maps
    for key, path in parts.items():
        os.replace(path, osp.join(out_dir, f'{key}.npy'))
    return dict(
        num_samples=n,
        frame_indices=indices,
        no_face_videos=no_face,
        faces_found=found,
        frames_total=n * len(indices))
