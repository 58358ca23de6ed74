"""Reading, resampling and fixing the length of audio for the converters.

``torchaudio.load`` (torchaudio >= 2.9) decodes through the optional
``torchcodec`` package, which mstkd does not require. PCM ``.wav`` files (the
RAVDESS release, and what ``ffmpeg -acodec pcm_s16le`` writes) are therefore
read with the standard-library :mod:`wave` module; any other file (an
``.mp4``'s audio track, a float ``.wav``) goes through ``torchaudio.load``
when ``torchcodec`` is installed, and otherwise fails with the command that
converts it to a PCM wav.
"""
import os.path as osp
import wave
from typing import Tuple

import numpy as np
import torch

from mstkd.utils.errors import DataNotFoundError, UserInputError

#: torchaudio's equivalent of resampy's / librosa's ``kaiser_best`` filter
#: (librosa < 0.10 default ``res_type``; the VGGish reference code calls
#: ``resampy.resample`` with it): a Kaiser-windowed sinc with 64 zero
#: crossings, roll-off 0.9476 and beta 14.77.
KAISER_BEST = dict(
    lowpass_filter_width=64,
    rolloff=0.9475937167399596,
    resampling_method='sinc_interp_kaiser',
    beta=14.769656459379492)

FFMPEG_HINT = ('convert it to a 16-bit PCM wav, e.g. '
               '`ffmpeg -i INPUT -vn -acodec pcm_s16le OUTPUT.wav`, or '
               '`pip install torchcodec` so that torchaudio.load can decode '
               'it')


def read_pcm_wav(path: str) -> Tuple[np.ndarray, int]:
    """Read an integer-PCM ``.wav`` file with the standard library.

    Args:
        path (str): The file (8-, 16-, 24- or 32-bit integer PCM).

    Returns:
        tuple: ``(samples, sample_rate)``; samples are float32 in [-1, 1),
        shape ``[channels, length]`` (scaled by ``1 / 2**(bits - 1)``, as
        libsndfile / librosa read them).

    Raises:
        wave.Error: The file is not an integer-PCM wav (e.g. float samples
            or WAVE_FORMAT_EXTENSIBLE on Python < 3.12).
    """
    with wave.open(path, 'rb') as f:
        channels = f.getnchannels()
        width = f.getsampwidth()
        rate = f.getframerate()
        raw = f.readframes(f.getnframes())
    if width == 1:  # unsigned 8-bit
        data = (np.frombuffer(raw, np.uint8).astype(np.float32) - 128) / 128
    elif width == 2:
        data = np.frombuffer(raw, '<i2').astype(np.float32) / 32768
    elif width == 3:  # 24-bit little endian: place in the top of an int32
        b = np.frombuffer(raw, np.uint8).reshape(-1, 3).astype(np.int32)
        data = ((b[:, 0] << 8) | (b[:, 1] << 16) | (b[:, 2] << 24))
        data = data.astype(np.float32) / 2.0**31
    elif width == 4:
        data = np.frombuffer(raw, '<i4').astype(np.float32) / 2.0**31
    else:
        raise wave.Error(f'unsupported sample width {width} bytes')
    return np.ascontiguousarray(data.reshape(-1, channels).T), rate


def load_audio(path: str) -> Tuple[torch.Tensor, int]:
    """Load an audio file (all channels) as float32.

    PCM wavs are read with :func:`read_pcm_wav`; everything else with
    ``torchaudio.load`` (needs ``torchcodec``).

    Args:
        path (str): An audio file, or a video file with an audio track.

    Returns:
        tuple: ``(waveform [channels, length] float32, sample_rate)``.

    Raises:
        DataNotFoundError: The file does not exist.
        UserInputError: It cannot be decoded here (message says how to
            convert it).
    """
    if not osp.isfile(path):
        raise DataNotFoundError(f'Audio file not found: {path}')
    if path.lower().endswith('.wav'):
        try:
            data, rate = read_pcm_wav(path)
            return torch.from_numpy(data), rate
        except (wave.Error, EOFError) as e:
            reason = f'it is not an integer-PCM wav ({e})'
    else:
        reason = 'it is not a .wav file'
    try:
        import torchaudio
        waveform, rate = torchaudio.load(path)
    except ImportError:
        raise UserInputError(
            f'Cannot read audio from {path}: {reason} and torchcodec (which '
            f'torchaudio.load needs) is not installed; {FFMPEG_HINT}.')
    except RuntimeError as e:
        raise UserInputError(
            f'Cannot decode audio from {path} ({e}); {FFMPEG_HINT}.')
    return waveform.to(torch.float32), rate


def to_mono(waveform: torch.Tensor) -> torch.Tensor:
    """Average the channels (librosa's ``to_mono``): ``[C, L]`` -> ``[L]``."""
    return waveform.mean(dim=0) if waveform.dim() == 2 else waveform


def resample(waveform: torch.Tensor, orig_rate: int,
             new_rate: int) -> torch.Tensor:
    """Resample with the ``kaiser_best`` filter (:data:`KAISER_BEST`).

    Args:
        waveform (torch.Tensor): ``[..., L]`` float32.
        orig_rate (int): Its sampling rate.
        new_rate (int): The target sampling rate.

    Returns:
        torch.Tensor: ``[..., L * new_rate / orig_rate]`` float32.
    """
    if orig_rate == new_rate:
        return waveform
    import torchaudio.functional as AF
    return AF.resample(waveform, orig_rate, new_rate, **KAISER_BEST)


def fix_length(waveform: torch.Tensor, length: int,
               trim: str = 'center') -> torch.Tensor:
    """Pad with zeros at the end, or trim, to exactly ``length`` samples.

    Args:
        waveform (torch.Tensor): ``[L]``.
        length (int): The target number of samples.
        trim (str): ``'center'`` removes ``(L - length) // 2`` samples at the
            start and the rest at the end (the RAVDESS release); ``'end'``
            keeps the first ``length`` samples.

    Returns:
        torch.Tensor: ``[length]``.
    """
    n = waveform.shape[-1]
    if n < length:
        return torch.nn.functional.pad(waveform, (0, length - n))
    start = (n - length) // 2 if trim == 'center' else 0
    return waveform[..., start:start + length]
