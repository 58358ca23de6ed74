"""Feature extractors for the converters: the networks are built here (from
LOCAL weight files; nothing is downloaded) and passed to small extraction
functions, so tests can run them with tiny random networks.

* images (CrisisMMD): torchvision ResNet-50 without its classifier, the
  2048-d globally pooled output; preprocessing as the release: resize to
  224x224 (no crop), ImageNet mean/std.
* text (CrisisMMD): any callable ``list[str] -> [B, D]``; the default is
  BERTweet-base's pooler output through the optional ``transformers``
  package (:func:`build_bertweet_encoder`).
* video frames (VGGSound): torchvision VGG19's convolutional trunk (conv5_4 +
  the last max pool: ``[512, 7, 7]`` at 224x224) followed by its adaptive
  average pool to 7x7 (an identity at 224x224).
"""
import os.path as osp
from collections import OrderedDict
from typing import Callable, Dict, List, Optional, Sequence

import numpy as np
import torch
from torch import nn

from mstkd.utils.errors import DataNotFoundError, UserInputError

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

TextEncoder = Callable[[List[str]], torch.Tensor]


def load_state_dict_file(path: str, what: str) -> Dict[str, torch.Tensor]:
    """Load a local ``torch.save``'d state dict (``weights_only``).

    A dict holding the weights under ``'state_dict'`` or ``'model'`` (a
    training checkpoint) is unwrapped.

    Args:
        path (str): The file.
        what (str): The network's name, for error messages.

    Returns:
        dict: Parameter name -> tensor.
    """
    if not osp.isfile(path):
        raise DataNotFoundError(f'{what} weight file not found: {path}')
    try:
        state = torch.load(path, map_location='cpu', weights_only=True)
    except Exception as e:  # pickle errors of many kinds
        raise UserInputError(f'Cannot load {what} weights from {path}: {e}')
    for key in ('state_dict', 'model'):
        if isinstance(state, dict) and isinstance(state.get(key), dict):
            state = state[key]
    if not isinstance(state, dict):
        raise UserInputError(
            f'{path} holds a {type(state).__name__}, not a state dict of '
            f'{what} weights.')
    return state


def _load_strict(model: nn.Module, state: Dict[str, torch.Tensor],
                 path: str, what: str) -> None:
    try:
        model.load_state_dict(state)
    except RuntimeError as e:
        raise UserInputError(
            f'{path} does not match torchvision\'s {what}: {e}')


# -- images: ResNet-50 --------------------------------------------------------


def build_resnet50_trunk(weights: Optional[str] = None) -> nn.Module:
    """torchvision ResNet-50 with ``fc`` replaced by an identity.

    Args:
        weights (str, optional): A torchvision ``resnet50`` state dict, e.g.
            ``resnet50-0676ba61.pth`` (``IMAGENET1K_V1``, what
            ``pretrained=True`` gave the release). ``None``: random init.

    Returns:
        nn.Module: ``[B, 3, H, W]`` -> ``[B, 2048]``, in eval mode.
    """
    import torchvision
    model = torchvision.models.resnet50(weights=None)
    if weights is not None:
        _load_strict(model, load_state_dict_file(weights, 'ResNet-50'),
                     weights, 'resnet50')
    model.fc = nn.Identity()
    return model.eval()


def image_transform(size: int = 224) -> Callable:
    """PIL image -> normalised ``[3, size, size]`` tensor (the release's
    ``Resize((224, 224))``, ``ToTensor``, ImageNet ``Normalize``)."""
    from torchvision import transforms
    return transforms.Compose([
        transforms.Resize((size, size)),
        transforms.ToTensor(),
        transforms.Normalize(IMAGENET_MEAN, IMAGENET_STD)
    ])


def load_image(path: str, transform: Callable) -> torch.Tensor:
    """Open an image as RGB and apply ``transform``."""
    from PIL import Image
    if not osp.isfile(path):
        raise DataNotFoundError(f'Image not found: {path}')
    try:
        with Image.open(path) as img:
            return transform(img.convert('RGB'))
    except OSError as e:
        raise UserInputError(f'Cannot read the image {path}: {e}')


def extract_image_features(paths: Sequence[str],
                           net: nn.Module,
                           size: int = 224,
                           batch_size: int = 32,
                           device: str = 'cpu',
                           log: Optional[Callable[[str], None]] = None,
                           log_every: int = 1000) -> np.ndarray:
    """Run ``net`` on images, batch by batch.

    Args:
        paths (Sequence[str]): Image files.
        net (nn.Module): ``[B, 3, size, size]`` -> ``[B, D]`` (or
            ``[B, D, 1, 1]``).
        size (int): Input side. Defaults to 224.
        batch_size (int): Images per forward. Defaults to 32.
        device (str): Where ``net`` runs.
        log (Callable, optional): Progress messages.
        log_every (int): Log about every ``log_every`` images and at the end.

    Returns:
        np.ndarray: ``[N, D]`` float32.
    """
    transform = image_transform(size)
    net = net.to(device).eval()
    out = []
    with torch.no_grad():
        for start in range(0, len(paths), batch_size):
            batch = torch.stack([
                load_image(p, transform)
                for p in paths[start:start + batch_size]
            ])
            out.append(net(batch.to(device)).flatten(1).float().cpu().numpy())
            done = start + len(batch)
            if log is not None and (done // log_every > start // log_every
                                    or done == len(paths)):
                log(f'images {done}/{len(paths)}')
    return np.concatenate(out) if out else np.zeros((0, 0), np.float32)


# -- text: BERTweet -----------------------------------------------------------


class HFTextEncoder:
    """A Hugging Face tokenizer + model pair used as a text encoder.

    Texts are tokenised in batches (padding, truncation to ``max_length``
    tokens, as the release's ``tokenizer.encode(text, max_length=128)``)
    and the model's ``pooler_output`` is returned.

    Args:
        tokenizer (Callable): ``tokenizer(texts, max_length=..., padding=True,
            truncation=True, return_tensors='pt')`` -> dict of tensors.
        model (nn.Module): ``model(**encoded)`` -> object with
            ``pooler_output`` ``[B, D]``.
        max_length (int): Token limit. Defaults to 128.
        device (str): Where the model runs.
        preprocess (Callable, optional): Applied to every text first (e.g.
            :func:`mstkd.datasets.converters.crisismmd.release_tweet_text`).
    """

    def __init__(self,
                 tokenizer: Callable,
                 model: nn.Module,
                 max_length: int = 128,
                 device: str = 'cpu',
                 preprocess: Optional[Callable[[str], str]] = None):
        self.tokenizer = tokenizer
        self.model = model.to(device).eval()
        self.max_length = max_length
        self.device = device
        self.preprocess = preprocess

    def __call__(self, texts: List[str]) -> torch.Tensor:
        """Args:
            texts (list[str]): A batch of texts.

        Returns:
            torch.Tensor: ``[B, D]`` float32 on the CPU.
        """
        if self.preprocess is not None:
            texts = [self.preprocess(t) for t in texts]
        enc = self.tokenizer(
            list(texts),
            max_length=self.max_length,
            padding=True,
            truncation=True,
            return_tensors='pt')
        enc = {k: v.to(self.device) for k, v in enc.items()}
        with torch.no_grad():
            out = self.model(**enc)
        return out.pooler_output.float().cpu()


def require_transformers():
    """Import ``transformers`` or fail with the install command."""
    try:
        import transformers
    except ImportError:
        raise UserInputError(
            'The BERTweet text encoder needs the Hugging Face transformers '
            'package, which mstkd does not install: pip install transformers '
            '(the release tokenizer also needs: pip install emoji nltk).')
    return transformers


def build_bertweet_encoder(model_dir: str,
                           random_init: bool = False,
                           device: str = 'cpu',
                           max_length: int = 128,
                           preprocess: Optional[Callable[[str], str]] = None
                           ) -> HFTextEncoder:
    """BERTweet-base (or any BERT-like HF model) from a LOCAL folder.

    Args:
        model_dir (str): A folder saved by ``save_pretrained`` (e.g. a copy
            of ``vinai/bertweet-base``: config.json, weights, vocab.txt,
            bpe.codes).
        random_init (bool): Build the model from its config with random
            weights (tests); the tokenizer still comes from ``model_dir``.
        device (str): Where the model runs.
        max_length (int): Token limit. Defaults to 128.
        preprocess (Callable, optional): Text normalisation before
            tokenisation.

    Returns:
        HFTextEncoder: ``list[str]`` -> ``[B, 768]``.
    """
    transformers = require_transformers()
    if not osp.isdir(model_dir):
        raise DataNotFoundError(
            f'Text model folder not found: {model_dir} (a local copy of '
            'vinai/bertweet-base made with save_pretrained: config.json, '
            'model weights, vocab.txt, bpe.codes).')
    tokenizer = transformers.AutoTokenizer.from_pretrained(
        model_dir, local_files_only=True)
    if random_init:
        config = transformers.AutoConfig.from_pretrained(
            model_dir, local_files_only=True)
        model = transformers.AutoModel.from_config(config)
    else:
        model = transformers.AutoModel.from_pretrained(
            model_dir, local_files_only=True)
    return HFTextEncoder(tokenizer, model, max_length, device, preprocess)


def extract_text_features(texts: Sequence[str],
                          encoder: TextEncoder,
                          batch_size: int = 64,
                          log: Optional[Callable[[str], None]] = None,
                          log_every: int = 1000) -> np.ndarray:
    """Encode texts batch by batch.

    Args:
        texts (Sequence[str]): The texts.
        encoder (Callable): ``list[str]`` -> ``[B, D]`` tensor.
        batch_size (int): Texts per call. Defaults to 64.
        log (Callable, optional): Progress messages.
        log_every (int): Log about every ``log_every`` texts and at the end.

    Returns:
        np.ndarray: ``[N, D]`` float32.
    """
    out = []
    for start in range(0, len(texts), batch_size):
        batch = list(texts[start:start + batch_size])
        feats = torch.as_tensor(encoder(batch)).float()
        if feats.shape[0] != len(batch):
            raise ValueError(f'text encoder returned {feats.shape[0]} rows '
                             f'for {len(batch)} texts')
        out.append(feats.cpu().numpy())
        done = start + len(batch)
        if log is not None and (done // log_every > start // log_every
                                or done == len(texts)):
            log(f'texts {done}/{len(texts)}')
    return np.concatenate(out) if out else np.zeros((0, 0), np.float32)


# -- video frames: VGG19 ------------------------------------------------------


def build_vgg19_trunk(weights: Optional[str] = None) -> nn.Module:
    """VGG19's convolutional trunk and 7x7 adaptive average pool.

    Only the ``features`` part is built (no 120 M-parameter classifier).

    Args:
        weights (str, optional): A torchvision ``vgg19`` state dict (e.g.
            ``vgg19-dcbb9e9d.pth``); its ``classifier.*`` entries are
            ignored. ``None``: random init.

    Returns:
        nn.Module: ``[B, 3, H, W]`` -> ``[B, 512, 7, 7]``, in eval mode.
    """
    from torchvision.models.vgg import cfgs, make_layers
    features = make_layers(cfgs['E'], batch_norm=False)
    if weights is not None:
        state = load_state_dict_file(weights, 'VGG19')
        state = {
            k[len('features.'):]: v
            for k, v in state.items() if k.startswith('features.')
        }
        _load_strict(features, state, weights, 'vgg19 (features.*)')
    return nn.Sequential(
        OrderedDict(features=features,
                    avgpool=nn.AdaptiveAvgPool2d((7, 7)))).eval()


def frames_to_tensor(frames: np.ndarray, size: int = 224) -> torch.Tensor:
    """RGB uint8 frames ``[T, H, W, 3]`` -> normalised ``[T, 3, size, size]``
    (bilinear ``cv2.resize``, /255, ImageNet mean/std)."""
    import cv2
    resized = np.stack([
        cv2.resize(f, (size, size), interpolation=cv2.INTER_LINEAR)
        for f in frames
    ]) if frames.shape[1:3] != (size, size) else frames
    x = torch.from_numpy(np.ascontiguousarray(resized)).permute(0, 3, 1, 2)
    x = x.float().div_(255.0)
    mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    return (x - mean) / std


def extract_frame_features(frames: np.ndarray,
                           net: nn.Module,
                           size: int = 224,
                           batch_size: int = 32,
                           device: str = 'cpu') -> torch.Tensor:
    """Run ``net`` on video frames, batch by batch.

    Args:
        frames (np.ndarray): ``[T, H, W, 3]`` RGB uint8.
        net (nn.Module): ``[B, 3, size, size]`` -> ``[B, C, h, w]``.
        size (int): Input side. Defaults to 224.
        batch_size (int): Frames per forward. Defaults to 32.
        device (str): Where ``net`` runs.

    Returns:
        torch.Tensor: ``[T, C, h, w]`` float32 on the CPU.
    """
    out = []
    with torch.no_grad():
        for start in range(0, len(frames), batch_size):
            x = frames_to_tensor(frames[start:start + batch_size], size)
            out.append(net(x.to(device)).float().cpu())
    return torch.cat(out)
