"""VGGSound clips -> the ``VGGS50K`` feature layout of the MST-Distill release.

Per clip (the first ``seconds`` = 10 s):

* **visual** ``{name}_vFeature.npy`` ``[10, 7, 7, 512]``: for every second,
  ``per_second`` frames (default 16, the paper's "VGG19 at 16 fps" following
  AVEL) at times ``s + (k + 0.5) / per_second``; each frame RGB, resized to
  224x224, ImageNet-normalised, through VGG19's conv trunk (pool5 output
  ``[512, 7, 7]``); the frames of a second are averaged; channels last.
* **audio** ``{name}_aFeature.npy`` ``[10, 128]``: the clip's audio as 16 kHz
  mono (zero-padded to 10 s when shorter), VGGish embeddings of the ten
  0.96 s examples (:mod:`.vggish`), optionally PCA-whitened and quantised
  as in the AudioSet release.

Raw features go to ``VGGS50K_features/{visual,audio}_features/``; then one
global scalar min-max per modality over all clips gives
``VGGS50K_features_normed/`` (the release's ``preprocess_VGGsound50K_3``);
``VGGS50k_metadata.txt`` lists ``{name}&{class_id}`` in input order and
``seg_labels/{name}_sLabel.npy`` ``[1, 10]`` holds per-second 0/1 event
labels when a label file is given.
"""
import csv
import json
import os
import os.path as osp
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
from torch import nn

from mstkd.utils.errors import DataNotFoundError, UserInputError
from .audio_io import fix_length, load_audio, resample, to_mono
from .features import extract_frame_features
from .video_io import read_frames, video_fps
from .vggish import SAMPLE_RATE as VGGISH_RATE
from .vggish import vggish_embeddings

METADATA = 'VGGS50k_metadata.txt'
RAW_DIR = 'VGGS50K_features'
NORMED_DIR = 'VGGS50K_features_normed'
SUBDIRS = dict(visual='visual_features', audio='audio_features')
SUFFIXES = dict(visual='_vFeature.npy', audio='_aFeature.npy')
SEG_DIR = 'seg_labels'
VIDEO_EXTS = ('.mp4', '.mkv', '.webm', '.avi', '.mov')

INPUT_LAYOUT = """\
CLIPS.csv            header 'name,class_id', one clip per line
CLIP_DIR/{name}.mp4  (or .mkv/.webm/.avi/.mov) the video, >= 10 s
AUDIO_DIR/{name}.wav its audio track as a PCM wav (AUDIO_DIR defaults to
                     CLIP_DIR), e.g. ffmpeg -i {name}.mp4 -vn -ac 1
                     -ar 16000 -acodec pcm_s16le {name}.wav; without a wav
                     the audio is decoded from the video (needs torchcodec)"""


def feature_path(out_dir: str, kind: str, name: str,
                 normed: bool = True) -> str:
    """``OUT/VGGS50K_features[_normed]/{kind}_features/{name}_?Feature.npy``
    for ``kind`` in ``visual``, ``audio``."""
    return osp.join(out_dir, NORMED_DIR if normed else RAW_DIR,
                    SUBDIRS[kind], name + SUFFIXES[kind])


def read_clip_list(csv_path: str) -> List[Tuple[str, int]]:
    """Read ``name,class_id`` rows.

    Args:
        csv_path (str): A CSV file with a header naming ``name`` and
            ``class_id`` (other columns are ignored).

    Returns:
        list[tuple]: ``(name, class_id)`` in file order.
    """
    if not osp.isfile(csv_path):
        raise DataNotFoundError(
            f'Clip list not found: {csv_path}\nExpected:\n{INPUT_LAYOUT}')
    with open(csv_path, newline='', encoding='utf-8') as f:
        reader = csv.DictReader(f)
        fields = reader.fieldnames or []
        if 'name' not in fields or 'class_id' not in fields:
            raise UserInputError(
                f'{csv_path}: the header must name the columns name and '
                f'class_id (found {fields}).')
        clips, seen = [], set()
        for line, row in enumerate(reader, start=2):
            name = (row['name'] or '').strip()
            try:
                class_id = int(row['class_id'])
            except (TypeError, ValueError):
                class_id = -1
            if not name or class_id < 0 or '&' in name or '/' in name:
                raise UserInputError(
                    f'{csv_path}:{line}: expected a clip name (no "&" or '
                    f'"/") and a class id >= 0, got {row}.')
            if name in seen:
                raise UserInputError(f'{csv_path}:{line}: clip {name!r} '
                                     'is listed twice.')
            seen.add(name)
            clips.append((name, class_id))
    if not clips:
        raise UserInputError(f'{csv_path} lists no clips.')
    return clips


def find_clip_video(clip_dir: str, name: str) -> str:
    """The video file of a clip (first existing extension of
    :data:`VIDEO_EXTS`)."""
    for ext in VIDEO_EXTS:
        path = osp.join(clip_dir, name + ext)
        if osp.isfile(path):
            return path
    raise DataNotFoundError(
        f'No video for clip {name!r} in {clip_dir} (tried '
        f'{", ".join(VIDEO_EXTS)}).\nExpected:\n{INPUT_LAYOUT}')


def second_frame_indices(fps: float, seconds: int,
                         per_second: int) -> np.ndarray:
    """Frame numbers sampled in every second.

    Args:
        fps (float): The video's frame rate.
        seconds (int): Number of seconds.
        per_second (int): Frames per second to take.

    Returns:
        np.ndarray: ``[seconds, per_second]`` int64, frame
        ``floor((s + (k + 0.5) / per_second) * fps)``.
    """
    t = np.arange(seconds)[:, None] + \
        (np.arange(per_second)[None] + 0.5) / per_second
    return np.floor(t * fps + 1e-6).astype(np.int64)


def read_clip_frames(path: str, seconds: int,
                     per_second: int) -> Tuple[np.ndarray, int]:
    """The sampled frames of a clip, RGB.

    Frames past the end of a short video repeat its last frame.

    Args:
        path (str): Video file.
        seconds (int): Seconds to cover.
        per_second (int): Frames per second.

    Returns:
        tuple: ``(frames [seconds * per_second, H, W, 3] uint8 RGB,
        number of frames that were past the end)``.
    """
    fps = video_fps(path)
    if fps <= 0:
        raise UserInputError(f'{path}: the video reports no frame rate.')
    indices = second_frame_indices(fps, seconds, per_second).ravel()
    frames, count = read_frames(path, indices, keep_last=True)
    if not frames:
        raise UserInputError(f'{path}: no frame could be decoded.')
    last = frames[max(frames)]  # the video's last frame when it is short
    clamped = int(sum(int(i) >= count for i in indices))
    out = np.stack([frames.get(int(i), last) for i in indices])
    return np.ascontiguousarray(out[..., ::-1]), clamped


def load_clip_audio(path: str, seconds: int) -> Tuple[torch.Tensor, bool]:
    """A clip's audio as 16 kHz mono, exactly ``seconds`` long.

    Args:
        path (str): A wav (or a video, with torchcodec).
        seconds (int): Length; longer audio keeps its start, shorter audio
            is zero-padded at the end.

    Returns:
        tuple: ``(waveform [seconds * 16000] float32, was_padded)``.
    """
    waveform, rate = load_audio(path)
    mono = resample(to_mono(waveform), rate, VGGISH_RATE)
    length = seconds * VGGISH_RATE
    return fix_length(mono, length, trim='end'), mono.shape[-1] < length


def clip_features(video: str,
                  audio: str,
                  visual_net: nn.Module,
                  audio_net: nn.Module,
                  postprocessor: Optional[nn.Module] = None,
                  seconds: int = 10,
                  per_second: int = 16,
                  image_size: int = 224,
                  batch_size: int = 32,
                  device: str = 'cpu') -> Dict[str, object]:
    """Visual and audio features of one clip (not normalised).

    Args:
        video (str): The video file.
        audio (str): The audio file (a wav, or the video itself).
        visual_net (nn.Module): ``[B, 3, S, S]`` -> ``[B, C, 7, 7]``
            (:func:`~.features.build_vgg19_trunk`).
        audio_net (nn.Module): ``[B, 1, 96, 64]`` -> ``[B, 128]``
            (:class:`~.vggish.VGGish`).
        postprocessor (nn.Module, optional): VGGish PCA / quantisation.
        seconds (int): Seconds per clip. Defaults to 10.
        per_second (int): Frames averaged per second. Defaults to 16.
        image_size (int): Frame side fed to ``visual_net``. Defaults to 224.
        batch_size (int): Frames per forward.
        device (str): Where the networks run.

    Returns:
        dict: ``visual`` ``[seconds, h, w, C]`` and ``audio``
        ``[seconds, D]`` float32 arrays; ``frames_past_end`` and
        ``audio_padded`` (clip shorter than ``seconds``).
    """
    frames, clamped = read_clip_frames(video, seconds, per_second)
    feats = extract_frame_features(frames, visual_net, image_size,
                                   batch_size, device)
    feats = feats.reshape(seconds, per_second, *feats.shape[1:]).mean(1)
    waveform, padded = load_clip_audio(audio, seconds)
    emb = vggish_embeddings(waveform, audio_net, seconds, postprocessor,
                            device)
    return dict(
        visual=feats.permute(0, 2, 3, 1).contiguous().numpy(),
        audio=emb.numpy().astype(np.float32),
        frames_past_end=clamped,
        audio_padded=padded)


def read_seg_labels(path: str, names: Sequence[str],
                    seconds: int) -> Dict[str, np.ndarray]:
    """Per-second event labels for the clips that have them.

    Accepted JSON: ``{key: [0/1 x seconds]}``, ``{key: {"label": [...]}}``,
    or a list of such objects (the VGGSound-AVEL50k label file). A clip's
    key is its name, else the 11-character YouTube id ``name[1:12]`` (the
    release's rule for clip files named ``v<id>_...``).

    Args:
        path (str): The JSON file.
        names (Sequence[str]): Clip names.
        seconds (int): Expected label length.

    Returns:
        dict: ``name -> [1, seconds]`` int64 array, for the clips found.
    """
    if not osp.isfile(path):
        raise DataNotFoundError(f'Segment label file not found: {path}')
    with open(path, encoding='utf-8') as f:
        data = json.load(f)
    items = data if isinstance(data, list) else [data]
    table = {}
    for item in items:
        if not isinstance(item, dict):
            raise UserInputError(
                f'{path}: expected a JSON object or a list of objects.')
        for key, value in item.items():
            if isinstance(value, dict):
                value = value.get('label')
            table[key] = value
    out = {}
    for name in names:
        value = table.get(name, table.get(name[1:12]))
        if value is None:
            continue
        arr = np.asarray(value, dtype=np.int64).reshape(-1)
        if arr.size != seconds or not np.isin(arr, (0, 1)).all():
            raise UserInputError(
                f'{path}: the labels of {name!r} must be {seconds} values '
                f'of 0/1, got {value}.')
        out[name] = arr.reshape(1, seconds)
    return out


def normalize_features(out_dir: str, names: Sequence[str], kind: str,
                       lo: float, hi: float) -> None:
    """Write ``(x - lo) / (hi - lo)`` of every raw feature file, float32.

    Args:
        out_dir (str): The ``VGGS50K`` folder.
        names (Sequence[str]): Clip names.
        kind (str): ``'visual'`` or ``'audio'``.
        lo (float): Global minimum of the raw features.
        hi (float): Global maximum.
    """
    os.makedirs(osp.dirname(feature_path(out_dir, kind, 'x')), exist_ok=True)
    scale = np.float32(1.0 / (hi - lo)) if hi > lo else np.float32(0.0)
    for name in names:
        x = np.load(feature_path(out_dir, kind, name, normed=False))
        y = (x.astype(np.float32) - np.float32(lo)) * scale
        np.save(feature_path(out_dir, kind, name), y)


def _has_torchcodec() -> bool:
    import importlib.util
    return importlib.util.find_spec('torchcodec') is not None


def convert_vggsound(csv_path: str,
                     clip_dir: str,
                     out_dir: str,
                     visual_net: nn.Module,
                     audio_net: nn.Module,
                     postprocessor: Optional[nn.Module] = None,
                     audio_dir: Optional[str] = None,
                     seg_labels: Optional[str] = None,
                     seconds: int = 10,
                     per_second: int = 16,
                     image_size: int = 224,
                     batch_size: int = 32,
                     device: str = 'cpu',
                     resume: bool = False,
                     keep_raw: bool = True,
                     log: Callable[[str], None] = print) -> Dict[str, object]:
    """Extract, normalise and write the whole ``VGGS50K`` layout.

    Args:
        csv_path (str): ``name,class_id`` list (:func:`read_clip_list`).
        clip_dir (str): Folder of the videos.
        out_dir (str): The output ``VGGS50K`` folder.
        visual_net (nn.Module): Frame network (VGG19 trunk).
        audio_net (nn.Module): VGGish.
        postprocessor (nn.Module, optional): VGGish PCA / quantisation.
        audio_dir (str, optional): Folder of ``{name}.wav``; defaults to
            ``clip_dir``. Clips without a wav are decoded from the video.
        seg_labels (str, optional): Per-second label JSON
            (:func:`read_seg_labels`).
        seconds (int): Seconds per clip. Defaults to 10.
        per_second (int): Frames averaged per second. Defaults to 16.
        image_size (int): Frame side. Defaults to 224.
        batch_size (int): Frames per forward.
        device (str): Where the networks run.
        resume (bool): Reuse raw feature files that already exist (from an
            interrupted run with the same networks).
        keep_raw (bool): Keep ``VGGS50K_features/`` (the non-normalised
            features) after normalising.
        log (Callable): Progress messages.

    Returns:
        dict: ``num_clips``, ``visual_range`` and ``audio_range`` (raw
        global min, max), ``seg_labels`` (clips with labels),
        ``short_videos``, ``short_audio`` (clip names).
    """
    clips = read_clip_list(csv_path)
    names = [n for n, _ in clips]
    audio_dir = audio_dir or clip_dir
    labels = read_seg_labels(seg_labels, names, seconds) \
        if seg_labels else {}
    sources = []
    for name in names:  # fail before any work when a video is missing
        video = find_clip_video(clip_dir, name)
        wav = osp.join(audio_dir, name + '.wav')
        sources.append((video, wav if osp.isfile(wav) else video))
    no_wav = [n for n, (v, a) in zip(names, sources) if a == v]
    if no_wav and not _has_torchcodec():
        raise DataNotFoundError(
            f'{len(no_wav)} clips have no {{name}}.wav in {audio_dir} (e.g. '
            f'{no_wav[0]}.wav) and decoding audio from the videos needs '
            'torchcodec (pip install torchcodec), which is not installed.\n'
            f'Expected:\n{INPUT_LAYOUT}')
    for kind in SUBDIRS:
        os.makedirs(osp.dirname(feature_path(out_dir, kind, 'x', False)),
                    exist_ok=True)
    ranges = dict(visual=[np.inf, -np.inf], audio=[np.inf, -np.inf])
    short_videos, short_audio = [], []
    visual_net = visual_net.to(device).eval()
    audio_net = audio_net.to(device).eval()
    if postprocessor is not None:
        postprocessor = postprocessor.to(device)
    for i, (name, (video, audio)) in enumerate(zip(names, sources)):
        paths = {k: feature_path(out_dir, k, name, False) for k in SUBDIRS}
        if resume and all(osp.isfile(p) for p in paths.values()):
            feats = {k: np.load(p) for k, p in paths.items()}
        else:
            feats = clip_features(video, audio, visual_net, audio_net,
                                  postprocessor, seconds, per_second,
                                  image_size, batch_size, device)
            if feats['frames_past_end']:
                short_videos.append(name)
            if feats['audio_padded']:
                short_audio.append(name)
            for k, p in paths.items():
                np.save(p, feats[k])
        for k in SUBDIRS:
            ranges[k][0] = min(ranges[k][0], float(feats[k].min()))
            ranges[k][1] = max(ranges[k][1], float(feats[k].max()))
        if (i + 1) % 100 == 0 or i + 1 == len(names):
            log(f'[{i + 1}/{len(names)}] {name}')
    for k in SUBDIRS:
        lo, hi = ranges[k]
        if hi <= lo:
            log(f'warning: all {k} features equal {lo}: normalised to 0')
        normalize_features(out_dir, names, k, lo, hi)
        if not keep_raw:
            for name in names:
                os.remove(feature_path(out_dir, k, name, False))
            os.rmdir(osp.dirname(feature_path(out_dir, k, 'x', False)))
    if not keep_raw and not os.listdir(osp.join(out_dir, RAW_DIR)):
        os.rmdir(osp.join(out_dir, RAW_DIR))
    with open(osp.join(out_dir, METADATA), 'w', encoding='utf-8') as f:
        for name, class_id in clips:
            f.write(f'{name}&{class_id}\n')
    if labels:
        os.makedirs(osp.join(out_dir, SEG_DIR), exist_ok=True)
        for name, arr in labels.items():
            np.save(osp.join(out_dir, SEG_DIR, f'{name}_sLabel.npy'), arr)
    return dict(
        num_clips=len(names),
        visual_range=tuple(ranges['visual']),
        audio_range=tuple(ranges['audio']),
        seg_labels=len(labels),
        short_videos=short_videos,
        short_audio=short_audio)
