"""VGGish (Hershey et al., ICASSP 2017): its input features, network and
PCA/quantisation post-processing, for the VGGSound-50k audio features.

torchaudio 2.11 ships no VGGish (the ``torchaudio.prototype`` package, which
had ``VGGISH``, is gone), so the model is defined here with the layout of the
two public PyTorch ports, and weights come from a local file in either's key
naming (:func:`load_vggish_weights`):

* torchvggish (``vggish-10086976.pth``): ``features.*``, ``embeddings.*``;
* torchaudio's former prototype bundle: ``features_network.*``,
  ``embedding_network.*``.

Input features follow the reference ``vggish_input.waveform_to_examples``:
16 kHz mono, 25 ms periodic-Hann frames every 10 ms (no padding), magnitude
of a 512-point FFT, 64 HTK-mel bands 125-7500 Hz (triangles linear in mel,
DC bin excluded), ``log(mel + 0.01)``, examples of 96 frames (0.96 s) with
no overlap.
"""
import math
from typing import Dict, Optional

import torch
from torch import nn

from mstkd.utils.errors import UserInputError

SAMPLE_RATE = 16000
WINDOW_SECONDS = 0.025
HOP_SECONDS = 0.010
NUM_BANDS = 64
MEL_MIN_HZ = 125.0
MEL_MAX_HZ = 7500.0
LOG_OFFSET = 0.01
EXAMPLE_FRAMES = 96  # 0.96 s
EMBEDDING_SIZE = 128
QUANTIZE_MIN = -2.0
QUANTIZE_MAX = 2.0


def _hz_to_mel(hz: torch.Tensor) -> torch.Tensor:
    """HTK mel scale."""
    return 1127.0 * torch.log1p(hz / 700.0)


def vggish_mel_matrix(num_spectrogram_bins: int = 257,
                      sample_rate: int = SAMPLE_RATE,
                      num_bands: int = NUM_BANDS,
                      lower_hz: float = MEL_MIN_HZ,
                      upper_hz: float = MEL_MAX_HZ) -> torch.Tensor:
    """VGGish's mel filterbank (``mel_features.spectrogram_to_mel_matrix``).

    Args:
        num_spectrogram_bins (int): ``fft_length // 2 + 1``.
        sample_rate (int): Hz.
        num_bands (int): Mel bands.
        lower_hz (float): Lower edge of the first band.
        upper_hz (float): Upper edge of the last band.

    Returns:
        torch.Tensor: ``[num_spectrogram_bins, num_bands]`` float32; the
        triangles are linear in the mel domain and row 0 (DC) is zero.
    """
    bins_mel = _hz_to_mel(
        torch.linspace(0.0, sample_rate / 2.0, num_spectrogram_bins,
                       dtype=torch.float64))
    edges = torch.linspace(
        float(_hz_to_mel(torch.tensor(lower_hz, dtype=torch.float64))),
        float(_hz_to_mel(torch.tensor(upper_hz, dtype=torch.float64))),
        num_bands + 2, dtype=torch.float64)
    lower, center, upper = edges[:-2], edges[1:-1], edges[2:]
    rising = (bins_mel[:, None] - lower) / (center - lower)
    falling = (upper - bins_mel[:, None]) / (upper - center)
    weights = torch.clamp(torch.minimum(rising, falling), min=0.0)
    weights[0] = 0.0
    return weights.to(torch.float32)


def _frame(x: torch.Tensor, length: int, hop: int) -> torch.Tensor:
    """Non-padded frames along dim 0: ``[1 + (N - length) // hop, length,
    ...]`` (empty when ``N < length``)."""
    if x.shape[0] < length:
        return x.new_zeros((0, length) + tuple(x.shape[1:]))
    return x.unfold(0, length, hop).movedim(-1, 1)


def waveform_to_examples(waveform: torch.Tensor) -> torch.Tensor:
    """Log-mel examples of a 16 kHz mono waveform, VGGish's input.

    Args:
        waveform (torch.Tensor): ``[L]`` float in [-1, 1], 16 kHz.

    Returns:
        torch.Tensor: ``[n, 1, 96, 64]`` float32 with
        ``n = 1 + (frames - 96) // 96`` and
        ``frames = 1 + (L - 400) // 160`` (10 s -> 10 examples).
    """
    window = int(round(SAMPLE_RATE * WINDOW_SECONDS))  # 400
    hop = int(round(SAMPLE_RATE * HOP_SECONDS))  # 160
    fft_length = 2**int(math.ceil(math.log2(window)))  # 512
    frames = _frame(waveform.to(torch.float32), window, hop)
    spec = torch.fft.rfft(
        frames * torch.hann_window(window, periodic=True), fft_length).abs()
    mel = spec @ vggish_mel_matrix(fft_length // 2 + 1)
    log_mel = torch.log(mel + LOG_OFFSET)
    return _frame(log_mel, EXAMPLE_FRAMES, EXAMPLE_FRAMES).unsqueeze(1)


class VGGish(nn.Module):
    """The VGGish network: ``[B, 1, 96, 64]`` log-mel -> ``[B, 128]``.

    Four conv blocks (64, 128, 256x2, 512x2 channels, 3x3, ReLU, 2x2 max
    pool) and three fully connected layers (4096, 4096, 128, each followed
    by ReLU, as in torchvggish). Module names follow torchvggish.
    """

    def __init__(self):
        super().__init__()
        layers, channels = [], 1
        for v in (64, 'M', 128, 'M', 256, 256, 'M', 512, 512, 'M'):
            if v == 'M':
                layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
            else:
                layers += [
                    nn.Conv2d(channels, v, kernel_size=3, padding=1),
                    nn.ReLU(inplace=True)
                ]
                channels = v
        self.features = nn.Sequential(*layers)
        self.embeddings = nn.Sequential(
            nn.Linear(512 * 6 * 4, 4096), nn.ReLU(inplace=True),
            nn.Linear(4096, 4096), nn.ReLU(inplace=True),
            nn.Linear(4096, EMBEDDING_SIZE), nn.ReLU(inplace=True))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Args:
            x (torch.Tensor): ``[B, 1, 96, 64]`` log-mel examples.

        Returns:
            torch.Tensor: ``[B, 128]`` embeddings.
        """
        x = self.features(x)  # [B, 512, 6, 4]
        # channels last before flattening, as the TensorFlow original
        return self.embeddings(x.permute(0, 2, 3, 1).flatten(1))


_PROTOTYPE_PREFIXES = {
    'features_network.': 'features.',
    'embedding_network.': 'embeddings.'
}


def convert_vggish_keys(
        state_dict: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """Map a VGGish state dict to :class:`VGGish`'s key names.

    Accepts torchvggish keys (unchanged) and torchaudio-prototype keys
    (``features_network.`` -> ``features.``, ``embedding_network.`` ->
    ``embeddings.``); drops torchvggish's PCA post-processor entries
    (``pproc.*``: load those with :class:`VGGishPostprocessor`).

    Args:
        state_dict (dict): The loaded weights.

    Returns:
        dict: Weights for :class:`VGGish`.
    """
    out = {}
    for key, value in state_dict.items():
        if key.startswith('pproc.'):
            continue
        for old, new in _PROTOTYPE_PREFIXES.items():
            if key.startswith(old):
                key = new + key[len(old):]
                break
        out[key] = value
    return out


def load_vggish_weights(model: VGGish, path: str) -> VGGish:
    """Load a local VGGish weight file into ``model`` (strict).

    Args:
        model (VGGish): The network.
        path (str): A ``torch.save``'d state dict (torchvggish or torchaudio
            prototype naming; see :func:`convert_vggish_keys`).

    Returns:
        VGGish: ``model``.
    """
    from .features import load_state_dict_file
    state = convert_vggish_keys(load_state_dict_file(path, 'VGGish'))
    try:
        model.load_state_dict(state)
    except RuntimeError as e:
        raise UserInputError(
            f'{path} is not a VGGish state dict (torchvggish '
            f'vggish-10086976.pth layout expected): {e}')
    return model


class VGGishPostprocessor(nn.Module):
    """PCA (with whitening), clipping to [-2, 2] and 8-bit quantisation of
    VGGish embeddings: the AudioSet release format (values 0..255 as floats).

    Args:
        pca_eigen_vectors (torch.Tensor): ``[128, 128]``.
        pca_means (torch.Tensor): ``[128]`` (or ``[128, 1]``).
    """

    def __init__(self, pca_eigen_vectors: torch.Tensor,
                 pca_means: torch.Tensor):
        super().__init__()
        self.register_buffer('eigen_vectors',
                             torch.as_tensor(pca_eigen_vectors).float())
        self.register_buffer('means',
                             torch.as_tensor(pca_means).float().reshape(-1))

    @classmethod
    def from_file(cls, path: str) -> 'VGGishPostprocessor':
        """Load torchvggish's ``vggish_pca_params-970ea276.pth`` (keys
        ``pca_eigen_vectors``, ``pca_means``; an ``.npz`` of the TensorFlow
        release with the same keys works too)."""
        if path.endswith('.npz'):
            import numpy as np
            with np.load(path) as f:
                params = {k: torch.from_numpy(f[k]) for k in f.files}
        else:
            from .features import load_state_dict_file
            params = load_state_dict_file(path, 'VGGish PCA parameters')
        missing = {'pca_eigen_vectors', 'pca_means'} - set(params)
        if missing:
            raise UserInputError(
                f'{path} lacks {sorted(missing)}: expected the VGGish PCA '
                'parameters (vggish_pca_params-970ea276.pth).')
        return cls(params['pca_eigen_vectors'], params['pca_means'])

    def forward(self, embeddings: torch.Tensor) -> torch.Tensor:
        """Args:
            embeddings (torch.Tensor): ``[B, 128]``.

        Returns:
            torch.Tensor: ``[B, 128]`` float32 integers in 0..255.
        """
        pca = (embeddings - self.means) @ self.eigen_vectors.T
        clipped = pca.clamp(QUANTIZE_MIN, QUANTIZE_MAX)
        return torch.round(
            (clipped - QUANTIZE_MIN) * (255.0 / (QUANTIZE_MAX - QUANTIZE_MIN)))


def vggish_embeddings(waveform: torch.Tensor,
                      model: nn.Module,
                      num_examples: int,
                      postprocessor: Optional[nn.Module] = None,
                      device: str = 'cpu') -> torch.Tensor:
    """Per-0.96 s VGGish embeddings of a 16 kHz waveform.

    Args:
        waveform (torch.Tensor): ``[L]``, 16 kHz, long enough for
            ``num_examples`` examples (:func:`waveform_to_examples`).
        model (nn.Module): ``[B, 1, 96, 64]`` -> ``[B, D]``.
        num_examples (int): The first ``num_examples`` are kept.
        postprocessor (nn.Module, optional): e.g. :class:`VGGishPostprocessor`.
        device (str): Where the model runs.

    Returns:
        torch.Tensor: ``[num_examples, D]`` float32 on the CPU.
    """
    examples = waveform_to_examples(waveform)
    if len(examples) < num_examples:
        raise ValueError(f'{len(examples)} VGGish examples < {num_examples}')
    with torch.no_grad():
        out = model(examples[:num_examples].to(device))
        if postprocessor is not None:
            out = postprocessor(out)
    return out.float().cpu()
