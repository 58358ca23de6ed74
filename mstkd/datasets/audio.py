"""Audio feature helpers (log-mel spectrograms) for the audio modality."""
from typing import Union

import numpy as np
import torch


def log_mel_spectrogram(waveforms: Union[torch.Tensor, np.ndarray],
                        sample_rate: int,
                        n_mels: int = 112,
                        n_frames: int = 112,
                        batch_size: int = 256) -> torch.Tensor:
    """Compute fixed-size log-mel spectrograms of a batch of waveforms.

    The hop length is ``L // n_frames`` (``L`` = number of samples) with
    centred frames, which always yields at least ``n_frames + 1`` frames; the
    first ``n_frames`` frames are kept (very short inputs, with
    ``L < n_frames``, use hop 1 and are padded on the right with each
    spectrogram's minimum). The window
    is a Hann window of ``min(4 * hop, n_fft)`` samples with
    ``n_fft = max(512, next power of two >= 2 * n_mels)`` (fine enough
    frequency resolution that no mel filter is empty). Power spectrogram ->
    mel filterbank (``f_min=20``, ``f_max=sample_rate / 2``) -> decibels with
    ``top_db=80`` applied per sample (independent of batching). Integer input
    is scaled to [-1, 1) by ``1 / 32768``. Everything is computed in float32,
    ``batch_size`` waveforms at a time.

    Args:
        waveforms (torch.Tensor | np.ndarray): Waveforms of shape ``[C, L]``
            (or ``[L]`` for a single one), int16 or floating point.
        sample_rate (int): Sampling rate of the waveforms in Hz.
        n_mels (int): Number of mel bands (output height). Defaults to 112.
        n_frames (int): Number of time frames (output width).
            Defaults to 112.
        batch_size (int): Number of waveforms processed at once.
            Defaults to 256.

    Returns:
        torch.FloatTensor: Log-mel spectrograms in dB, shape
        ``[C, n_mels, n_frames]``, dtype float32 (not normalised).
    """
    import torchaudio.transforms as T

    if isinstance(waveforms, np.ndarray):
        is_int = np.issubdtype(waveforms.dtype, np.integer)
        waveforms = torch.from_numpy(np.ascontiguousarray(waveforms))
    else:
        is_int = not torch.is_floating_point(waveforms)
    if waveforms.dim() == 1:
        waveforms = waveforms[None]
    if waveforms.dim() != 2:
        raise ValueError('waveforms must have shape [C, L], got '
                         f'{tuple(waveforms.shape)}')
    num, length = waveforms.shape
    hop = max(1, length // n_frames)
    n_fft = max(512, 1 << int(np.ceil(np.log2(2 * n_mels))))
    win = min(4 * hop, n_fft)
    mel = T.MelSpectrogram(
        sample_rate=sample_rate,
        n_fft=n_fft,
        win_length=win,
        hop_length=hop,
        f_min=20.0,
        f_max=sample_rate / 2,
        n_mels=n_mels,
        power=2.0,
        center=True,
        pad_mode='reflect' if length > n_fft // 2 else 'constant',
        norm='slaney',
        mel_scale='slaney')
    to_db = T.AmplitudeToDB(stype='power', top_db=80.0)
    out = torch.empty((num, n_mels, n_frames), dtype=torch.float32)
    with torch.no_grad():
        for start in range(0, num, batch_size):
            x = waveforms[start:start + batch_size].to(torch.float32)
            if is_int:
                x = x / 32768.0
            spec = mel(x)  # [B, n_mels, T]
            # [B, 1, M, T]: top_db is then applied per sample
            spec = to_db(spec.unsqueeze(1)).squeeze(1)
            t = spec.shape[-1]
            if t >= n_frames:
                spec = spec[..., :n_frames]
            else:
                pad = spec.amin(dim=(-2, -1), keepdim=True).expand(
                    -1, n_mels, n_frames - t)
                spec = torch.cat([spec, pad], dim=-1)
            out[start:start + len(x)] = spec
    return out
