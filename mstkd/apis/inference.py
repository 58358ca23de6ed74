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

Segmentation (NYU-Depth-V2, the FuseNet members: ``configs/members/
nyu_{rgb,depth,fusion}.py``, ``configs/mst/mst_nyu_{rgb,depth}.py`` or a
student extracted from them)::

    model = init_model('configs/members/nyu_rgb.py', 'student.pth')
    result = inference_model(model, 'rgb.png', depth='depth.png')
    save_segmentation_png(result['pred_sem_seg'], 'seg.png',
                          result['palette'])

Inputs: an RGB image path (8-bit, 3 channels; a 4th alpha channel is
dropped) and/or ``depth=`` a depth map path (a 16-bit PNG of
``depth_scale`` units per metre, millimetres by default, or a ``.npy`` in
metres), preprocessed by the config's own test pipeline
(``LoadImageFromFile`` / ``LoadDepthFromFile`` -> ``ConcatRGBD`` ->
``NormalizeRGBD`` -> ``PackSegInputs``, without ``LoadAnnotations``). The
RGB min-max statistics of the set come from ``meta.json`` (``nyu_meta=``:
a ``meta.json``, its folder or a dict; default: the ``data_root`` of the
config's test dataset), else 0..255 per channel (``result['rgb_stats']``
says which). A modality the network does not read may be left out (zeros
take its channels). Preprocessed inputs are taken too: the dataset's
``[4, H, W]`` RGB-D tensor (or a ``[B, 4, H, W]`` batch, or a dataset item
``{'inputs': tensor, ...}``) or a dict ``{'rgb': [3, H, W], 'depth':
[1, H, W]}`` (batched: ``[B, C, H, W]``). The result (a list of them for a
batch) is::

    dict(modality='rgb',          # 'rgb', 'depth' or 'rgb+depth' (FuseNet)
         pred_sem_seg=...,        # [H, W] int64 numpy label map, input size
         probs_shape=(C, H, W),   # the per-pixel class probabilities' shape
         pred_score=0.71,         # mean over pixels of the top probability
         classes=(...),           # C class names (label i = classes[i])
         palette=[[r, g, b], ...])  # C colours (the dataset's metainfo)

Every pixel gets a class (void pixels too: with ``reduce_zero_label=True``,
the default, the 40 outputs have no void class; with the release's 41
outputs label 0 is ``'void'``). :func:`colorize_label_map` turns a label
map into an ``[H, W, 3]`` uint8 RGB image and :func:`save_segmentation_png`
writes it with cv2.
"""
import os.path as osp
import wave
from typing import Dict, List, Optional, Sequence, Union

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


def _is_segmentor(net) -> bool:
    from mmseg.models.segmentors.base import BaseSegmentor
    return isinstance(net, BaseSegmentor)


def is_segmentation_model(model) -> bool:
    """Whether :func:`inference_model` answers ``model`` (or its student)
    with a label map (the NYU-Depth-V2 FuseNet members)."""
    try:
        return _is_segmentor(_student(model)[0])
    except UserInputError:
        return False


def _student(model):
    """``(network, modality, data preprocessor, class names)``."""
    from mstkd.models.algorithms.base_distiller import BaseDistiller
    if isinstance(model, BaseDistiller):
        net = model.members[model.target]
    elif type(model).__name__ == 'MemberClassifier':
        net = model.member
    elif _is_segmentor(model):
        net = model  # a FuseNet member run or an extracted FuseNet student
    else:
        raise UserInputError(
            f'inference_model runs classification students (a member run, '
            f'an extracted student or a distiller) and the NYU-Depth-V2 '
            f'segmentation members; got {type(model).__name__}.')
    modality = getattr(net, 'modality', None)
    classes = _dataset_cfg(model).get('metainfo', {}).get('classes')
    return net, modality, model.data_preprocessor, classes


def inference_model(model, inputs: Union[str, Dict[str, torch.Tensor],
                                         torch.Tensor, None],
                    class_names: Optional[Sequence[str]] = None,
                    depth: Optional[str] = None,
                    nyu_meta: Union[str, dict, None] = None):
    """Predict one sample (or a batch).

    Classification: ``dict(modality, pred_label, pred_class, pred_score,
    probs)``. Segmentation (a FuseNet member, see the module docstring):
    ``dict(modality, pred_sem_seg, probs_shape, pred_score, classes,
    palette)``; ``inputs`` may then be an RGB image path (or None), with
    ``depth`` a depth map path and ``nyu_meta`` the set's ``meta.json``.
    A list of dicts for a batch.
    """
    net, modality, preprocessor, classes = _student(model)
    if _is_segmentor(net):
        return _inference_seg(model, net, preprocessor, inputs,
                              class_names, depth, nyu_meta)
    if depth is not None:
        raise UserInputError('depth= is for the NYU-Depth-V2 segmentation '
                             f'models; this student reads "{modality}".')
    if isinstance(inputs, str):
        inputs = load_input(inputs, _dataset_cfg(model))
    if not isinstance(inputs, dict):
        raise UserInputError(
            f'the "{modality}" student takes a file path or a dict '
            f'{{modality: tensor}}; got {type(inputs).__name__}.')
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


# ----------------------------------------------------------------------
# segmentation (NYU-Depth-V2)
# ----------------------------------------------------------------------
#: The modalities of the RGB-D batch tensor and their channels.
SEG_CHANNELS = dict(rgb=(0, 3), depth=(3, 4))
DEPTH_EXTS = ('.npy', '.png')


def default_palette(num_classes: int) -> List[List[int]]:
    """A fixed, deterministic palette: the PASCAL VOC colour map of ids
    ``1..num_classes`` (distinct for up to 255 classes, never black;
    for 40 classes it is ``NYU_PALETTE``)."""
    palette = []
    for i in range(1, num_classes + 1):
        r = g = b = 0
        c = i
        for j in range(8):
            r |= ((c >> 0) & 1) << (7 - j)
            g |= ((c >> 1) & 1) << (7 - j)
            b |= ((c >> 2) & 1) << (7 - j)
            c >>= 3
        palette.append([r, g, b])
    return palette


def colorize_label_map(label_map, palette: Optional[Sequence] = None
                       ) -> np.ndarray:
    """``[H, W, 3]`` uint8 RGB image of an ``[H, W]`` label map: label ``i``
    gets ``palette[i]`` (default :func:`default_palette` of the largest
    label + 1); labels outside the palette (e.g. 255, void) are black."""
    labels = np.asarray(label_map.cpu() if isinstance(
        label_map, torch.Tensor) else label_map)
    if labels.ndim == 3 and labels.shape[0] == 1:
        labels = labels[0]
    if labels.ndim != 2 or not np.issubdtype(labels.dtype, np.integer):
        raise UserInputError(
            f'a label map is an [H, W] integer array, got {labels.dtype} of '
            f'shape {labels.shape}.')
    if palette is None:
        palette = default_palette(int(labels.max()) + 1 if labels.size
                                  else 1)
    colours = np.asarray(palette, dtype=np.int64)
    if colours.ndim != 2 or colours.shape[1] != 3 or \
            colours.min() < 0 or colours.max() > 255:
        raise UserInputError('a palette is a list of [r, g, b] colours in '
                             f'0..255, got shape {colours.shape}.')
    table = np.concatenate([colours, np.zeros((1, 3), np.int64)]).astype(
        np.uint8)
    index = np.where((labels >= 0) & (labels < len(colours)), labels,
                     len(colours))
    return table[index]


def save_segmentation_png(label_map, out: str,
                          palette: Optional[Sequence] = None) -> str:
    """Write :func:`colorize_label_map` of ``label_map`` as a PNG (cv2;
    parent folders are made); returns ``out``."""
    import os

    import cv2
    if not out.lower().endswith('.png'):
        raise UserInputError(f'{out}: the segmentation is written as a '
                             '.png file.')
    rgb = colorize_label_map(label_map, palette)
    folder = osp.dirname(osp.abspath(out))
    os.makedirs(folder, exist_ok=True)
    if not cv2.imwrite(out, np.ascontiguousarray(rgb[..., ::-1])):
        raise UserInputError(f'could not write {out}.')
    return out


def class_shares(label_map, classes: Optional[Sequence[str]] = None,
                 top: Optional[int] = None) -> List[tuple]:
    """``[(label, name, fraction of the pixels), ...]``, largest first."""
    labels = np.asarray(label_map).ravel()
    counts = np.bincount(labels[labels >= 0])
    order = [int(i) for i in np.argsort(-counts, kind='stable')
             if counts[i] > 0][:top]
    return [(i, classes[i] if classes is not None and i < len(classes)
             else str(i), float(counts[i]) / max(labels.size, 1))
            for i in order]


def _nyu_stats(dataset_cfg: dict, nyu_meta: Union[str, dict, None]) -> dict:
    """``rgb_min``, ``rgb_max``, ``depth_scale`` and ``source`` for the
    pipeline: from ``nyu_meta`` (a dict, a ``meta.json`` or its folder),
    else the dataset's ``data_root/meta.json``, else 0..255."""
    import json
    meta, source = None, None
    if isinstance(nyu_meta, dict):
        meta, source = nyu_meta, 'given'
    else:
        path = nyu_meta
        if path is None:
            root = dataset_cfg.get('data_root')
            path = osp.join(root, 'meta.json') if root else None
            if path is not None and not osp.isfile(path):
                path = None
        elif osp.isdir(path):
            path = osp.join(path, 'meta.json')
        if path is not None:
            if not osp.isfile(path):
                raise DataNotFoundError(f'NYU meta.json not found: {path}')
            try:
                with open(path) as f:
                    meta = json.load(f)
            except ValueError as err:
                raise UserInputError(f'{path} is not valid JSON: '
                                     f'{err}') from None
            source = path
    if meta is None:
        return dict(rgb_min=[0.0] * 3, rgb_max=[255.0] * 3,
                    depth_scale=1000.0, source='default 0..255')
    try:
        return dict(rgb_min=[float(v) for v in meta['rgb_min']],
                    rgb_max=[float(v) for v in meta['rgb_max']],
                    depth_scale=float(meta.get('depth_scale', 1000.0)),
                    source=source)
    except (KeyError, TypeError, ValueError):
        raise UserInputError(
            f'{source}: NYU meta needs rgb_min and rgb_max (3 values each, '
            'as the converter writes them).') from None


def _check_rgb_file(path: str) -> tuple:
    """``(H, W)`` of a readable 8-bit colour image; a clear error for a
    depth map or a grayscale image given as the RGB input."""
    import cv2
    if not osp.isfile(path):
        raise DataNotFoundError(f'RGB image not found: {path}')
    ext = osp.splitext(path)[1].lower()
    if ext == '.npy':
        raise UserInputError(
            f'{path}: a .npy is a depth map, not the RGB image; pass it as '
            'the depth input (--depth / depth=).')
    if ext not in IMAGE_EXTS:
        raise UserInputError(f'{path}: the RGB input is an image '
                             f'({", ".join(IMAGE_EXTS)}), got {ext!r}.')
    raw = cv2.imread(path, cv2.IMREAD_UNCHANGED)
    if raw is None:
        raise UserInputError(f'{path} is not a readable image.')
    channels = 1 if raw.ndim == 2 else raw.shape[2]
    if raw.dtype == np.uint16 and channels == 1:
        raise UserInputError(
            f'{path} is a 16-bit single-channel image (a depth map?); the '
            '"rgb" modality needs an 8-bit colour image; pass depth maps '
            'as the depth input (--depth / depth=).')
    if raw.dtype != np.uint8 or channels not in (3, 4):
        raise UserInputError(
            f'{path}: the "rgb" modality needs an 8-bit 3-channel colour '
            f'image, got {channels} channel(s) of {raw.dtype}.')
    return raw.shape[:2]


def _check_depth_file(path: str) -> None:
    if not osp.isfile(path):
        raise DataNotFoundError(f'depth map not found: {path}')
    ext = osp.splitext(path)[1].lower()
    if ext not in DEPTH_EXTS:
        raise UserInputError(
            f'{path}: a depth map is a 16-bit .png or a .npy (metres), got '
            f'{ext!r}.')


def _nyu_item(rgb: Optional[str], depth: Optional[str],
              dataset_cfg: Optional[dict] = None,
              nyu_meta: Union[str, dict, None] = None) -> tuple:
    """``(inputs [4, H, W], SegDataSample, stats)`` of image files, through
    the config's test pipeline (without annotations); a missing modality
    is zeros (before normalisation)."""
    from mmengine.dataset import Compose
    cfg = dataset_cfg or {}
    if rgb is None and depth is None:
        raise UserInputError('give an RGB image and/or a depth map.')
    shape = _check_rgb_file(rgb) if rgb is not None else None
    if depth is not None:
        _check_depth_file(depth)
    if not cfg.get('pipeline'):
        raise UserInputError(
            'the config\'s test dataset has no pipeline: give the NYU '
            'config of the run (test_dataloader.dataset.pipeline, e.g. '
            'configs/_base_/datasets/nyu_depth_v2.py).')
    pipeline = [dict(t) for t in cfg['pipeline']]
    kind = [str(t.get('type', '')).split('.')[-1] for t in pipeline]
    pipeline = [t for t, k in zip(pipeline, kind) if k != 'LoadAnnotations']
    kind = [k for k in kind if k != 'LoadAnnotations']
    if 'LoadImageFromFile' not in kind or 'LoadDepthFromFile' not in kind:
        raise UserInputError(
            'the config\'s test pipeline does not load RGB-D images '
            f'(LoadImageFromFile, LoadDepthFromFile): {kind}.')
    stats = _nyu_stats(cfg, nyu_meta)
    results = dict(img_path=rgb, depth_path=depth,
                   rgb_min=stats['rgb_min'], rgb_max=stats['rgb_max'],
                   depth_scale=stats['depth_scale'], seg_fields=[],
                   reduce_zero_label=cfg.get('reduce_zero_label', True))
    # load what is given with the pipeline's own loaders
    for name, path in (('LoadImageFromFile', rgb),
                       ('LoadDepthFromFile', depth)):
        pos = kind.index(name)
        if path is not None:
            try:
                results = Compose([pipeline[pos]])(results)
            except ValueError as err:
                raise UserInputError(f'{path}: {err}') from None
    if rgb is None:
        h, w = results['depth'].shape
        results.update(img=np.zeros((h, w, 3), np.uint8), img_shape=(h, w),
                       ori_shape=(h, w), img_path=None)
    if depth is None:
        results['depth'] = np.zeros(shape, np.float32)
    elif rgb is not None and results['depth'].shape != tuple(shape):
        raise UserInputError(
            f'{depth}: the depth map is {results["depth"].shape[0]}x'
            f'{results["depth"].shape[1]} and the RGB image {shape[0]}x'
            f'{shape[1]} (H x W); they must be the same size.')
    rest = [t for t, k in zip(pipeline, kind)
            if k not in ('LoadImageFromFile', 'LoadDepthFromFile')]
    try:
        packed = Compose(rest)(results)
    except (ValueError, KeyError) as err:
        raise UserInputError(f'preprocessing {rgb or depth}: {err}') \
            from None
    if not isinstance(packed, dict) or 'inputs' not in packed:
        raise UserInputError('the config\'s test pipeline must end with '
                             'mmseg.PackSegInputs.')
    inputs = packed['inputs'].float()
    if inputs.dim() != 3 or inputs.shape[0] != 4:
        raise UserInputError(
            'the config\'s test pipeline gives inputs of shape '
            f'{tuple(inputs.shape)}, expected the [4, H, W] RGB-D tensor.')
    return inputs, packed['data_samples'], stats


def load_nyu_input(rgb: Optional[str] = None, depth: Optional[str] = None,
                   dataset_cfg: Optional[dict] = None,
                   nyu_meta: Union[str, dict, None] = None
                   ) -> Dict[str, torch.Tensor]:
    """``{'rgb': [3, H, W], 'depth': [1, H, W]}`` (the modalities given) of
    an RGB image and/or a depth map, preprocessed as the NYU-Depth-V2
    dataset does (the config's test pipeline, ``dataset_cfg``)."""
    inputs, _, _ = _nyu_item(rgb, depth, dataset_cfg, nyu_meta)
    out = {}
    for name, path in (('rgb', rgb), ('depth', depth)):
        if path is not None:
            start, stop = SEG_CHANNELS[name]
            out[name] = inputs[start:stop]
    return out


def _seg_modalities(net) -> tuple:
    mods = getattr(net, 'modalities', None) or ()
    if not mods and getattr(net, 'modality', None):
        mods = (net.modality, )
    return tuple(mods) or ('rgb', 'depth')


def _as_rgbd(inputs, needed: tuple) -> torch.Tensor:
    """The ``[B, 4, H, W]`` RGB-D batch of preprocessed inputs."""
    if isinstance(inputs, dict) and 'inputs' in inputs:  # a dataset item
        inputs = inputs['inputs']
    if isinstance(inputs, (list, tuple)) and inputs and all(
            isinstance(t, torch.Tensor) for t in inputs):
        inputs = torch.stack(list(inputs))
    if isinstance(inputs, (torch.Tensor, np.ndarray)):
        x = torch.as_tensor(inputs).float()
        if x.dim() == 3:
            x = x[None]
        if x.dim() != 4 or x.shape[1] != 4:
            raise UserInputError(
                'a segmentation input tensor is the dataset\'s [4, H, W] '
                f'RGB-D image (or [B, 4, H, W]), got {tuple(x.shape)}; give '
                "separate modalities as {'rgb': [3, H, W], 'depth': "
                '[1, H, W]}.')
        return x
    if not isinstance(inputs, dict):
        raise UserInputError(
            'segmentation inputs are an RGB image path (with depth= a depth '
            "map), a [4, H, W] RGB-D tensor or {'rgb': ..., 'depth': ...}; "
            f'got {type(inputs).__name__}.')
    unknown = sorted(set(inputs) - set(SEG_CHANNELS))
    if unknown:
        raise UserInputError(
            f'unknown modalities {unknown}: the NYU-Depth-V2 models read '
            f'{sorted(SEG_CHANNELS)}.')
    missing = [m for m in needed if m not in inputs]
    if missing:
        who = f'the "{needed[0]}" student reads' if len(needed) == 1 \
            else 'the RGB-D model reads'
        wanted = ' and '.join(f'"{m}"' for m in needed)
        noun = 'modality' if len(needed) == 1 else 'modalities'
        raise UserInputError(
            f'{who} the {wanted} {noun}; the inputs give '
            f'{sorted(inputs)}.')
    parts = {}
    for name, value in inputs.items():
        t = torch.as_tensor(np.asarray(value) if not isinstance(
            value, torch.Tensor) else value).float()
        want = SEG_CHANNELS[name][1] - SEG_CHANNELS[name][0]
        if name == 'depth' and t.dim() == 2:
            t = t[None]
        if t.dim() == 3:
            t = t[None]
        if t.dim() != 4 or t.shape[1] != want:
            raise UserInputError(
                f'the "{name}" input must be [{want}, H, W] (or '
                f'[B, {want}, H, W]), got {tuple(t.shape)}.')
        parts[name] = t
    shapes = {tuple(t.shape[:1]) + tuple(t.shape[2:]) for t in
              parts.values()}
    if len(shapes) > 1:
        raise UserInputError(f'the modalities differ in size: '
                             f'{ {k: tuple(v.shape) for k, v in parts.items()} }.')
    ref = next(iter(parts.values()))
    x = ref.new_zeros((ref.shape[0], 4) + tuple(ref.shape[2:]))
    for name, t in parts.items():
        start, stop = SEG_CHANNELS[name]
        x[:, start:stop] = t
    return x


def _seg_metainfo(model, num_classes: int,
                  class_names: Optional[Sequence[str]]) -> tuple:
    """``(classes, palette)`` of the model's dataset (a fixed palette and
    numbers when the dataset has none of the right length)."""
    from mstkd.registry import DATASETS
    cfg = _dataset_cfg(model)
    cls = DATASETS.get(cfg['type']) if cfg.get('type') else None
    meta = dict(getattr(cls, 'METAINFO', None) or {})
    meta.update(cfg.get('metainfo') or {})
    classes = class_names or meta.get('classes')
    palette = meta.get('palette')
    if class_names is None and cls is not None and \
            hasattr(cls, 'classes_for_config') and \
            not (cfg.get('metainfo') or {}).get('classes'):
        classes = cls.classes_for_config(cfg)
        if palette is not None and len(classes) == len(palette) + 1:
            palette = [[0, 0, 0]] + list(palette)  # void, as the dataset
    if classes is None or len(classes) != num_classes:
        classes = tuple(str(i) for i in range(num_classes))
    if palette is None or len(palette) != num_classes:
        palette = default_palette(num_classes)
    return tuple(classes), [list(map(int, c)) for c in palette]


def _inference_seg(model, net, preprocessor, inputs, class_names, depth,
                   nyu_meta):
    from mmseg.models.utils import resize
    from mmseg.structures import SegDataSample
    needed = _seg_modalities(net)
    dataset_cfg = _dataset_cfg(model)
    stats = None
    if isinstance(inputs, str) or (inputs is None and depth is not None):
        rgb = inputs
        for name, given in (('rgb', rgb), ('depth', depth)):
            if name in needed and given is None:
                if name == 'depth':
                    raise UserInputError(
                        f'the {"+".join(needed)} model reads the "depth" '
                        'modality: give a depth map (--depth D.png|.npy, '
                        'depth=...).')
                raise UserInputError(
                    f'the {"+".join(needed)} model reads the "rgb" '
                    'modality: give an RGB image.')
        x, sample, stats = _nyu_item(rgb, depth, dataset_cfg, nyu_meta)
        batch, samples, single = x[None], [sample], True
    else:
        if depth is not None:
            raise UserInputError('depth= goes with an RGB image path; put a '
                                 "preprocessed depth in {'depth': tensor}.")
        single = not (isinstance(inputs, torch.Tensor) and inputs.dim() == 4
                      ) and not (isinstance(inputs, dict) and any(
                          torch.as_tensor(v).dim() == 4
                          for k, v in inputs.items() if k in SEG_CHANNELS))
        batch = _as_rgbd(inputs, needed)
        h, w = batch.shape[2:]
        samples = []
        for _ in range(len(batch)):
            sample = SegDataSample()
            sample.set_metainfo(dict(ori_shape=(h, w), img_shape=(h, w)))
            samples.append(sample)
        single = single and len(batch) == 1
    device = next(net.parameters()).device
    data = preprocessor(dict(inputs=[t.to(device) for t in batch],
                             data_samples=samples), False)
    with torch.no_grad():
        logits = net(data['inputs']).float()
    num_classes = logits.shape[1]
    classes, palette = _seg_metainfo(model, num_classes, class_names)
    out = []
    for i, sample in enumerate(samples):
        h, w = sample.img_shape
        row = logits[i:i + 1, :, :h, :w]  # the padding removed
        ori = tuple(sample.ori_shape)
        if ori != (h, w):
            row = resize(row, size=ori, mode='bilinear',
                         align_corners=False, warning=False)
        probs = torch.softmax(row[0], dim=0)
        score, label = probs.max(0)
        result = dict(modality='+'.join(needed),
                      pred_sem_seg=label.cpu().numpy().astype(np.int64),
                      probs_shape=tuple(probs.shape),
                      pred_score=float(score.mean()),
                      classes=classes, palette=palette)
        if stats is not None:
            result['rgb_stats'] = stats
        out.append(result)
    return out[0] if single else out
