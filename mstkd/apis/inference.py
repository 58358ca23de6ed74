"""Run a trained student on single inputs.

    from mstkd.apis import init_model, inference_model
    model = init_model('configs/members/avdigits_image.py', 'student.pth')
    inference_model(model, 'demo/samples/avdigits_test0_digit7.png')
    # {'modality': 'image', 'pred_label': 7, 'pred_class': '7',
    #  'pred_score': 0.93, 'probs': [...]}

The model is a student checkpoint (``tools/model_converters/
extract_student.py``), a member run, or a full distiller checkpoint
(MST-Distill or a baseline: its ``target`` member answers). Inputs are a
dict ``{modality: tensor}`` of one preprocessed sample (as a dataset item
gives it) or a batch, or a file in the AV-Digits / AV-MNIST formats: a
grayscale image (``.png``/``.jpg``: the ``image`` modality, min-max
normalised as the dataset) or a mono 16-bit ``.wav`` (the ``audio``
modality, through the dataset's log-mel front end with the config's
``n_mels``/``n_frames``).
"""
import os.path as osp
import wave
from typing import Dict, Optional, Sequence, Union

import numpy as np
import torch
from mmengine.config import Config

from mstkd.utils.errors import DataNotFoundError, UserInputError

IMAGE_EXTS = ('.png', '.jpg', '.jpeg', '.bmp')


def init_model(config: Union[str, Config],
               checkpoint: Optional[str] = None,
               device: str = 'cpu',
               cfg_options: Optional[dict] = None,
               strict: bool = True) -> torch.nn.Module:
    """Build the config's model, load ``checkpoint`` (strictly by default:
    a mismatch fails naming the keys and the likely cause) and put it in
    eval mode on ``device``; the config is kept as ``model.cfg``."""
    from mstkd.registry import MODELS
    from mstkd.utils import register_all_modules
    from mstkd.utils.checkpoint_match import (check_checkpoint_fits,
                                              read_checkpoint)
    register_all_modules(init_default_scope=True)
    if isinstance(config, str):
        if not osp.isfile(config):
            raise DataNotFoundError(f'config not found: {config}')
        config = Config.fromfile(config)
    cfg = config
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    model_cfg = dict(cfg.model)
    # the frozen teachers' source runs are not needed: the checkpoint holds
    # every weight
    model_cfg.pop('pretrained', None)
    model = MODELS.build(model_cfg)
    if checkpoint is not None:
        ckpt = read_checkpoint(checkpoint)
        check_checkpoint_fits(model, cfg.model, checkpoint, strict=strict,
                              ckpt=ckpt)
    model.cfg = cfg
    return model.to(device).eval()


def _dataset_cfg(model) -> dict:
    cfg = getattr(model, 'cfg', None)
    try:
        return dict(cfg.test_dataloader.dataset)
    except (AttributeError, KeyError):
        return {}


def read_wav(path: str) -> tuple:
    """``(int16 waveform, sample rate)`` of a mono 16-bit PCM WAV file."""
    try:
        with wave.open(path, 'rb') as f:
            if f.getsampwidth() != 2 or f.getnchannels() != 1:
                raise UserInputError(
                    f'{path}: expected a mono 16-bit PCM WAV, got '
                    f'{f.getnchannels()} channel(s) of '
                    f'{8 * f.getsampwidth()} bits.')
            data = np.frombuffer(f.readframes(f.getnframes()), '<i2')
            return data.copy(), f.getframerate()
    except (wave.Error, EOFError) as err:
        raise UserInputError(f'{path} is not a readable WAV file: '
                             f'{err}') from None


def write_wav(path: str, waveform: np.ndarray, sample_rate: int) -> None:
    """Write an int16 waveform as a mono 16-bit PCM WAV file."""
    with wave.open(path, 'wb') as f:
        f.setnchannels(1)
        f.setsampwidth(2)
        f.setframerate(int(sample_rate))
        f.writeframes(np.asarray(waveform, '<i2').tobytes())


def load_input(path: str, dataset_cfg: Optional[dict] = None
               ) -> Dict[str, torch.Tensor]:
    """One sample ``{modality: tensor}`` from an image or WAV file,
    preprocessed as the AV-Digits / AV-MNIST datasets do."""
    from mstkd.datasets.audio import log_mel_spectrogram
    from mstkd.datasets.normalization import minmax_per_sample
    if not osp.isfile(path):
        raise DataNotFoundError(f'input not found: {path}')
    ext = osp.splitext(path)[1].lower()
    if ext in IMAGE_EXTS:
        import cv2
        image = cv2.imread(path, cv2.IMREAD_GRAYSCALE)
        if image is None:
            raise UserInputError(f'{path} is not a readable image.')
        tensor = torch.from_numpy(image).float()[None, None]
        return dict(image=minmax_per_sample(tensor)[0])
    if ext == '.wav':
        cfg = dataset_cfg or {}
        waveform, rate = read_wav(path)
        spec = log_mel_spectrogram(waveform[None], rate,
                                   n_mels=cfg.get('n_mels', 112),
                                   n_frames=cfg.get('n_frames', 112))
        return dict(audio=minmax_per_sample(spec)[0][None])
    raise UserInputError(
        f'{path}: unknown input type {ext!r}; give an image '
        f'({", ".join(IMAGE_EXTS)}) or a 16-bit .wav, or a dict '
        '{modality: tensor}.')


def _student(model):
    """``(network, modality, data preprocessor, class names)``."""
    from mstkd.models.algorithms.base_distiller import BaseDistiller
    if isinstance(model, BaseDistiller):
        net = model.members[model.target]
    elif type(model).__name__ == 'MemberClassifier':
        net = model.member
    else:
        raise UserInputError(
            f'inference_model runs classification students (a member run, '
            f'an extracted student or a distiller); got '
            f'{type(model).__name__}.')
    modality = getattr(net, 'modality', None)
    classes = _dataset_cfg(model).get('metainfo', {}).get('classes')
    return net, modality, model.data_preprocessor, classes


def inference_model(model, inputs: Union[str, Dict[str, torch.Tensor]],
                    class_names: Optional[Sequence[str]] = None):
    """Predict one sample (or a batch): ``dict(modality, pred_label,
    pred_class, pred_score, probs)``, a list of them for a batch."""
    if isinstance(inputs, str):
        inputs = load_input(inputs, _dataset_cfg(model))
    net, modality, preprocessor, classes = _student(model)
    if modality is not None and modality not in inputs:
        raise UserInputError(
            f'the student reads the "{modality}" modality; the inputs give '
            f'{sorted(inputs)}.')
    batch = {k: torch.as_tensor(np.asarray(v) if not isinstance(
        v, torch.Tensor) else v).float() for k, v in inputs.items()}
    single = all(v.dim() == 3 for v in batch.values())
    if single:
        batch = {k: v[None] for k, v in batch.items()}
    data = preprocessor(dict(inputs=batch), False)
    with torch.no_grad():
        probs = torch.softmax(net(data['inputs']).float(), dim=1).cpu()
    names = class_names or classes
    if names is None:
        from mstkd.registry import DATASETS
        dataset_type = _dataset_cfg(model).get('type')
        cls = DATASETS.get(dataset_type) if dataset_type else None
        names = getattr(cls, 'METAINFO', {}).get('classes')
    out = []
    for row in probs:
        label = int(row.argmax())
        out.append(dict(modality=modality, pred_label=label,
                        pred_class=names[label] if names else str(label),
                        pred_score=float(row[label]),
                        probs=[float(p) for p in row]))
    return out[0] if single else out
