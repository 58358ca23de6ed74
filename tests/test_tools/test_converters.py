"""Converters from the raw releases (RAVDESS) and the feature extractors
(CrisisMMD-V2, VGGSound-50k), on tiny generated raw data and tiny / random
networks."""
import csv
import importlib.util
import json
import os
import os.path as osp
import runpy
import wave
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from torch import nn

from mstkd.datasets.converters import crisismmd as cmmd
from mstkd.datasets.converters import ravdess as rav
from mstkd.datasets.converters import vggish as vgi
from mstkd.datasets.converters import vggsound as vgs
from mstkd.datasets.converters.audio_io import load_audio, read_pcm_wav
from mstkd.datasets.converters.face_crop import (HaarFaceDetector,
                                                 crop_faces,
                                                 fill_missing_boxes)
from mstkd.datasets.converters.features import (HFTextEncoder,
                                                build_resnet50_trunk,
                                                image_transform, load_image,
                                                require_transformers)
from mstkd.utils.errors import DataNotFoundError, UserInputError
from tests.helpers import REPO, run_tool

cv2 = pytest.importorskip('cv2')

TOOLS = 'tools/dataset_converters'

# -- tiny raw data ------------------------------------------------------------


def frame_color(i):
    """BGR colour encoding frame number ``i`` (robust to mp4v's loss)."""
    return (10 + 20 * (i // 10), 20 + 20 * (i % 10), 128)


def decode_frame_number(bgr):
    """Inverse of :func:`frame_color` from mean B, G values."""
    b, g = float(bgr[0]), float(bgr[1])
    return int(round((b - 10) / 20) * 10 + round((g - 20) / 20))


def write_video(path, num_frames, fps=30.0, size=(64, 48)):
    writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*'mp4v'), fps,
                             size)
    assert writer.isOpened()
    for i in range(num_frames):
        frame = np.empty((size[1], size[0], 3), np.uint8)
        frame[:] = frame_color(i)
        writer.write(frame)
    writer.release()


def write_wav(path, seconds, rate, freq, channels=1):
    t = np.arange(int(round(seconds * rate))) / rate
    x = (0.3 * np.sin(2 * np.pi * freq * t) * 32767).astype('<i2')
    x = np.repeat(x[:, None], channels, axis=1)
    with wave.open(path, 'wb') as f:
        f.setnchannels(channels)
        f.setsampwidth(2)
        f.setframerate(rate)
        f.writeframes(x.tobytes())


# (actor, emotion code, audio seconds); sorted order = this order
RAVDESS_SPECS = [(1, 3, 3.0), (1, 5, 4.5), (2, 1, 3.8)]


def ravdess_name(modality, actor, emotion):
    return f'{modality:02d}-01-{emotion:02d}-01-01-01-{actor:02d}'


def make_raw_ravdess(root, specs=RAVDESS_SPECS, num_frames=110):
    for actor, emotion, seconds in specs:
        d = osp.join(root, f'Actor_{actor:02d}')
        os.makedirs(d, exist_ok=True)
        write_video(osp.join(d, ravdess_name(1, actor, emotion) + '.mp4'),
                    num_frames)
        # a video-only file, to be ignored
        open(osp.join(d, ravdess_name(2, actor, emotion) + '.mp4'),
             'wb').close()
        write_wav(osp.join(d, ravdess_name(3, actor, emotion) + '.wav'),
                  seconds, 48000, 150.0 * emotion)
    return root


# -- RAVDESS ------------------------------------------------------------------


def test_ravdess_tool_end_to_end(tmp_path):
    raw = make_raw_ravdess(str(tmp_path / 'raw'))
    out = str(tmp_path / 'RAVDESS_preprocessed_npy')
    res = run_tool([f'{TOOLS}/ravdess.py', raw, '-o', out])
    assert res.returncode == 0, res.stderr
    assert sorted(os.listdir(out)) == [
        'audio_data.npy', 'label_data.npy', 'video_data.npy'
    ]
    video = np.load(osp.join(out, 'video_data.npy'), mmap_mode='r')
    audio = np.load(osp.join(out, 'audio_data.npy'))
    labels = np.load(osp.join(out, 'label_data.npy'))
    assert video.shape == (3, 15, 3, 224, 224) and video.dtype == np.uint8
    assert audio.shape == (3, 15, 156) and audio.dtype == np.float32
    assert labels.dtype == np.int64
    # actor, then name: (1, 3), (1, 5), (2, 1) -> emotion code - 1
    assert labels.tolist() == [2, 4, 0]
    # the frames taken are 3, 10, ..., 101 (colours encode frame numbers)
    for clip in video:
        taken = [decode_frame_number(f[:, 112, 112]) for f in clip]
        assert taken == list(range(3, 102, 7))
    # the MFCCs are those of the matching wav, clip by clip
    for i, (actor, emotion, _) in enumerate(RAVDESS_SPECS):
        wav = osp.join(raw, f'Actor_{actor:02d}',
                       ravdess_name(3, actor, emotion) + '.wav')
        ref = rav.compute_mfcc(rav.load_ravdess_audio(wav)).numpy()
        np.testing.assert_allclose(audio[i], ref, rtol=1e-5, atol=1e-3)
    assert np.abs(audio[0] - audio[1]).max() > 1.0
    assert 'no face in 3 videos' in res.stdout


def test_ravdess_output_loads_with_reader(tmp_path):
    from mstkd.datasets.ravdess import RAVDESSDataset
    raw = make_raw_ravdess(str(tmp_path / 'raw'),
                           [(a, e, 3.0) for a in (1, 2) for e in (1, 4, 8)])
    out = str(tmp_path / 'npy')
    info = rav.convert_ravdess(raw, out, detector=lambda f: [],
                               frame_size=32, log=lambda m: None)
    assert info['num_samples'] == 6 and info['faces_found'] == 0
    ds = RAVDESSDataset(data_root=out, split='test', seed=0)
    item = ds[0]
    assert item['inputs']['video'].shape == (3, 15, 32, 32)
    assert item['inputs']['audio'].shape == (15, 156)
    assert set(np.load(osp.join(out, 'label_data.npy')).tolist()) == \
        {0, 3, 7}


def test_ravdess_release_frame_sampling_and_short_videos(tmp_path):
    release = rav.frame_indices('release')
    assert release == [3, 10, 17, 24, 31, 39, 46, 53, 60, 67, 75, 82, 89, 96,
                       103]
    assert rav.frame_indices('stride') == list(range(3, 102, 7))
    path = str(tmp_path / 'v.mp4')
    write_video(path, 110)
    frames = rav.load_ravdess_frames(path, release)
    assert [decode_frame_number(f[24, 32]) for f in frames] == release
    short = str(tmp_path / 's.mp4')
    write_video(short, 50)
    with pytest.raises(UserInputError, match='--pad-short-videos'):
        rav.load_ravdess_frames(short, release)
    padded = rav.load_ravdess_frames(short, release, pad_short=True)
    assert [decode_frame_number(f[24, 32]) for f in padded[:7]] == \
        release[:7]
    assert all(f.max() == 0 for f in padded[7:])  # frames >= 50: black


def _librosa_mfcc(y, pad, sr=22050, n_mfcc=15, n_fft=2048, hop=512,
                  n_mels=128):
    """librosa.feature.mfcc's algorithm in float64 NumPy/SciPy (Slaney mel
    scale and filter normalisation, power_to_db with top_db=80, DCT-II
    ortho), written independently of torchaudio."""
    import scipy.fft
    f_sp, min_hz = 200.0 / 3, 1000.0
    min_mel, logstep = min_hz / f_sp, np.log(6.4) / 27.0

    def hz_to_mel(f):
        f = np.asarray(f, float)
        return np.where(f >= min_hz,
                        min_mel + np.log(np.maximum(f, min_hz) / min_hz) /
                        logstep, f / f_sp)

    def mel_to_hz(m):
        return np.where(m >= min_mel, min_hz * np.exp(logstep *
                                                      (m - min_mel)),
                        f_sp * m)

    y = np.pad(y.astype(np.float64), n_fft // 2, mode=pad)
    n = 1 + (len(y) - n_fft) // hop
    win = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n_fft) / n_fft)
    frames = np.stack([y[i * hop:i * hop + n_fft] * win for i in range(n)])
    power = np.abs(np.fft.rfft(frames, axis=1))**2
    mel_f = mel_to_hz(np.linspace(hz_to_mel(0), hz_to_mel(sr / 2),
                                  n_mels + 2))
    fft_f = np.linspace(0, sr / 2, 1 + n_fft // 2)
    fdiff = np.diff(mel_f)
    ramps = mel_f[:, None] - fft_f[None]
    w = np.maximum(0, np.minimum(-ramps[:-2] / fdiff[:-1, None],
                                 ramps[2:] / fdiff[1:, None]))
    w *= (2.0 / (mel_f[2:] - mel_f[:-2]))[:, None]
    db = 10 * np.log10(np.maximum(1e-10, w @ power.T))
    db = np.maximum(db, db.max() - 80.0)
    return scipy.fft.dct(db, type=2, norm='ortho', axis=0)[:n_mfcc]


def test_ravdess_mfcc_matches_librosa_algorithm():
    rng = np.random.RandomState(0)
    t = np.arange(rav.NUM_SAMPLES) / rav.SAMPLE_RATE
    y = (0.3 * np.sin(2 * np.pi * 440 * t) +
         0.05 * rng.randn(len(t))).astype(np.float32)
    y[:4000] = 0  # a silent start: the padding mode matters there
    batch = torch.from_numpy(np.stack([y, 0.1 * y]))
    for pad in ('constant', 'reflect'):
        out = rav.compute_mfcc(batch, rav.build_mfcc(pad)).numpy()
        assert out.shape == (2, 15, 156)
        for row, scale in zip(out, (1.0, 0.1)):
            ref = _librosa_mfcc(scale * y.astype(np.float64), pad)
            assert np.abs(row - ref).max() < 1e-4 * np.abs(ref).max()
    # the two padding modes are really different
    assert np.abs(
        rav.compute_mfcc(batch[0], rav.build_mfcc('constant')).numpy() -
        _librosa_mfcc(y, 'reflect')).max() > 1.0


def test_ravdess_audio_resample_pad_trim(tmp_path):
    short, long_ = str(tmp_path / 's.wav'), str(tmp_path / 'l.wav')
    write_wav(short, 3.0, 48000, 441.0, channels=2)
    write_wav(long_, 4.5, 48000, 441.0)
    data, rate = read_pcm_wav(short)
    assert rate == 48000 and data.shape == (2, 144000)
    a = rav.load_ravdess_audio(short)
    assert a.shape == (rav.NUM_SAMPLES, ) and a.dtype == torch.float32
    n = int(3.0 * rav.SAMPLE_RATE)
    assert a[n + 10:].abs().max() == 0  # zeros appended
    spec = np.abs(np.fft.rfft(a[:n].numpy()))
    assert abs(np.argmax(spec) * rav.SAMPLE_RATE / n - 441.0) < 1.0
    b = rav.load_ravdess_audio(long_)
    full = torch.from_numpy(
        read_pcm_wav(long_)[0][0])  # resample the whole file, then trim
    from mstkd.datasets.converters.audio_io import resample
    full = resample(full, 48000, rav.SAMPLE_RATE)
    start = (len(full) - rav.NUM_SAMPLES) // 2
    assert start > 0
    torch.testing.assert_close(b, full[start:start + rav.NUM_SAMPLES])


class _ScriptedDetector:
    """Returns ``boxes[i]`` for the i-th frame it is called on."""

    def __init__(self, boxes):
        self.boxes, self.calls = boxes, 0

    def __call__(self, frame):
        self.calls += 1
        return self.boxes.get(self.calls - 1, [])


def test_face_crop_box_selection():
    # frames whose pixel value is the x coordinate: a crop's mean tells
    # which columns it covers
    h, w = 48, 64
    frame = np.repeat(np.arange(w, dtype=np.uint8)[None, :, None], h, 0)
    frame = np.repeat(frame, 3, 2)
    boxes = {
        1: [(0, 0, 10, 10), (40, 8, 60, 28)],  # largest: 20x20 at x 40..60
        3: [(4, 4, 20, 20)],
    }
    crops, found = crop_faces([frame] * 5, _ScriptedDetector(boxes), size=16)
    assert found == 2 and crops.shape == (5, 3, 16, 16)
    mean_x = crops[:, 0].mean(axis=(1, 2))
    # 0: next box (frame 1); 1: largest; 2: previous (1); 3: own; 4: prev (3)
    expected = [49.5, 49.5, 49.5, 11.5, 11.5]
    np.testing.assert_allclose(mean_x, expected, atol=1.0)
    assert fill_missing_boxes([None, None]) == [None, None]
    none_crops, none_found = crop_faces([frame], lambda f: [], size=16)
    assert none_found == 0  # centred square: columns 8..56
    assert abs(none_crops[0, 0].mean() - 31.5) < 1.0
    # the bundled cascade loads and finds no face in a flat image
    assert HaarFaceDetector()(np.full((120, 160, 3), 90, np.uint8)) == []


def test_ravdess_errors(tmp_path):
    with pytest.raises(DataNotFoundError, match='Actor_01'):
        rav.find_samples(str(tmp_path / 'nope'))
    os.makedirs(tmp_path / 'empty')
    with pytest.raises(DataNotFoundError, match='No audio-visual'):
        rav.find_samples(str(tmp_path / 'empty'))
    raw = make_raw_ravdess(str(tmp_path / 'raw'))
    os.remove(osp.join(raw, 'Actor_02', ravdess_name(3, 2, 1) + '.wav'))
    with pytest.raises(DataNotFoundError, match='03-01-01-01-01-01-02.wav'):
        rav.find_samples(raw)
    res = run_tool([f'{TOOLS}/ravdess.py', raw, '-o', str(tmp_path / 'o')])
    assert res.returncode == 2
    assert 'error:' in res.stderr and 'Traceback' not in res.stderr
    assert not osp.exists(tmp_path / 'o' / 'video_data.npy')
    # a failure half-way (videos too short) leaves no output behind
    short = make_raw_ravdess(str(tmp_path / 'short'), num_frames=50)
    out = tmp_path / 'short_out'
    with pytest.raises(UserInputError, match='has 50 frames'):
        rav.convert_ravdess(short, str(out), lambda f: [], frame_size=16,
                            log=lambda m: None)
    assert os.listdir(out) == []


# -- CrisisMMD-V2 -------------------------------------------------------------

TSV_HEADER = ['event_name', 'tweet_id', 'image_id', 'tweet_text', 'image',
              'label', 'label_text', 'label_image', 'label_text_image']
# (file, tweet_id, image index, text, label)
CMMD_ROWS = [
    ('train', '104', 0, 'Rescue teams at work @fema https://t.co/x',
     'rescue_volunteering_or_donation_effort'),
    ('train', '105', 0, 'Cars under water', 'vehicle_damage'),
    ('train', '101', 0, 'duplicate of a dev tweet', 'not_humanitarian'),
    ('train', '106', 0, 'Bridge collapsed',
     'infrastructure_and_utility_damage'),
    ('dev', '101', 0, 'Nothing to see', 'not_humanitarian'),
    ('dev', '102', 0, 'Two images of one tweet', 'affected_individuals'),
    ('dev', '102', 1, 'Two images of one tweet', 'affected_individuals'),
    ('test', '103', 0, 'Injured people rescued', 'injured_or_dead_people'),
]
# release order: dev, test, train files; first occurrence of a tweet
CMMD_EXPECTED = [('101', 0), ('102', 1), ('103', 3), ('104', 5), ('105', 6),
                 ('106', 2)]


def make_raw_crisismmd(root):
    from PIL import Image
    os.makedirs(osp.join(root, cmmd.SPLIT_DIR))
    files = {}
    for i, (split, tid, k, text, label) in enumerate(CMMD_ROWS):
        rel = f'data_image/event/1_1_2017/{tid}_{k}.jpg'
        os.makedirs(osp.dirname(osp.join(root, rel)), exist_ok=True)
        color = (20 * i, 255 - 20 * i, 100 + 10 * k)
        Image.new('RGB', (40 + 5 * i, 30 + 3 * i), color).save(
            osp.join(root, rel))
        files.setdefault(split, []).append(
            ['event', tid, f'{tid}_{k}', text, rel, label, label, label,
             'Positive'])
    for split, rows in files.items():
        path = osp.join(root, cmmd.SPLIT_DIR,
                        f'task_humanitarian_text_img_{split}.tsv')
        with open(path, 'w', newline='', encoding='utf-8') as f:
            writer = csv.writer(f, delimiter='\t')
            writer.writerow(TSV_HEADER)
            writer.writerows(rows)
    return root


class _TinyTokenizer:
    """Characters -> ids, padded batch with an attention mask (the call
    signature of a Hugging Face tokenizer)."""

    def __call__(self, texts, max_length, padding, truncation,
                 return_tensors):
        ids = [[min(ord(c), 255) + 1 for c in t][:max_length] or [1]
               for t in texts]
        width = max(len(i) for i in ids)
        input_ids = torch.zeros(len(ids), width, dtype=torch.long)
        mask = torch.zeros(len(ids), width, dtype=torch.long)
        for r, row in enumerate(ids):
            input_ids[r, :len(row)] = torch.tensor(row)
            mask[r, :len(row)] = 1
        return dict(input_ids=input_ids, attention_mask=mask)


class _TinyTextModel(nn.Module):
    """Masked mean of embeddings -> 768-d 'pooler output'."""

    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(257, 8)
        self.proj = nn.Linear(8, 768)

    def forward(self, input_ids, attention_mask):
        m = attention_mask.unsqueeze(-1).float()
        h = (self.emb(input_ids) * m).sum(1) / m.sum(1)
        return SimpleNamespace(pooler_output=torch.tanh(self.proj(h)))


def tiny_text_encoder():
    """Factory for ``--text-encoder tests.test_tools.test_converters:...``."""
    torch.manual_seed(0)
    return HFTextEncoder(_TinyTokenizer(), _TinyTextModel(), max_length=64)


def test_crisismmd_extraction(tmp_path):
    root = make_raw_crisismmd(str(tmp_path / 'CrisisMMD_v2.0'))
    out = str(tmp_path / 'CMMD-V2' / 'CMMD_data.pth')
    net = build_resnet50_trunk()  # random init
    encoder = tiny_text_encoder()
    info = cmmd.convert_crisismmd(root, out, net, encoder, image_size=64,
                                  batch_size=4, log=lambda m: None)
    assert info['num_samples'] == 6 and info['image_dim'] == 2048
    image, text, labels = torch.load(out, weights_only=True)
    assert image.shape == (6, 2048) and image.dtype == torch.float32
    assert text.shape == (6, 768) and text.dtype == torch.float32
    assert labels.dtype == torch.int64
    assert labels.tolist() == [c for _, c in CMMD_EXPECTED]
    rows = cmmd.read_humanitarian_rows(root)
    assert [r['tweet_id'] for r in rows] == [t for t, _ in CMMD_EXPECTED]
    assert rows[1]['image'].endswith('102_0.jpg')  # first image kept
    # row i holds the features of tweet i (batching changes nothing)
    tf = image_transform(64)
    with torch.no_grad():
        for i in (0, 5):
            x = load_image(osp.join(root, rows[i]['image']), tf)[None]
            torch.testing.assert_close(image[i:i + 1], net(x), atol=1e-4,
                                       rtol=1e-4)
            torch.testing.assert_close(text[i:i + 1],
                                       encoder([rows[i]['tweet_text']]))
    assert not torch.allclose(image[0], image[1])
    # the dataset reader accepts the file
    from mstkd.datasets.crisismmd import CrisisMMDDataset
    ds = CrisisMMDDataset(data_root=osp.dirname(out), split='train', seed=0)
    assert ds[0]['inputs']['image'].shape == (2048, )
    assert ds[0]['inputs']['text'].shape == (768, )


def test_crisismmd_tool(tmp_path):
    root = make_raw_crisismmd(str(tmp_path / 'CrisisMMD_v2.0'))
    out = str(tmp_path / 'CMMD_data.pth')
    res = run_tool([
        f'{TOOLS}/extract_crisismmd_features.py', root, '-o', out,
        '--random-init', '--image-size', '64', '--text-encoder',
        'tests.test_tools.test_converters:tiny_text_encoder'
    ])
    assert res.returncode == 0, res.stderr
    image, text, labels = torch.load(out, weights_only=True)
    assert image.shape == (6, 2048) and text.shape == (6, 768)
    assert labels.tolist() == [c for _, c in CMMD_EXPECTED]
    torch.testing.assert_close(text[2:3],
                               tiny_text_encoder()([CMMD_ROWS[7][3]]))


def _tool_main(name, argv, monkeypatch):
    module = runpy.run_path(osp.join(REPO, TOOLS, name))
    monkeypatch.setattr('sys.argv', [name] + argv)
    return module['main']()


def test_crisismmd_errors(tmp_path, monkeypatch):
    root = make_raw_crisismmd(str(tmp_path / 'CrisisMMD_v2.0'))
    out = str(tmp_path / 'o.pth')
    with pytest.raises(UserInputError, match='--random-init'):
        _tool_main('extract_crisismmd_features.py', [root, '-o', out],
                   monkeypatch)
    if importlib.util.find_spec('transformers') is None:
        with pytest.raises(UserInputError, match='pip install transformers'):
            _tool_main('extract_crisismmd_features.py', [
                root, '-o', out, '--random-init', '--text-model',
                str(tmp_path)
            ], monkeypatch)
        with pytest.raises(UserInputError, match='pip install transformers'):
            require_transformers()
    with pytest.raises(DataNotFoundError, match='task_humanitarian'):
        cmmd.read_humanitarian_rows(str(tmp_path))
    os.remove(osp.join(root, 'data_image/event/1_1_2017/105_0.jpg'))
    with pytest.raises(DataNotFoundError, match='105_0.jpg'):
        cmmd.convert_crisismmd(root, out, nn.Identity(), tiny_text_encoder(),
                               log=lambda m: None)
    with pytest.raises(UserInputError, match='Unknown humanitarian label'):
        cmmd.label_index('flood')
    assert not osp.exists(out)


def test_tweet_normalization():
    text = "@bob Check https://t.co/xyz and http://a.b isn't it"
    assert cmmd.normalize_tweet(text, str.split, lambda s: s) == \
        "@USER Check and HTTPURL is n't it"
    # ftfy repairs the mojibake, the apostrophe is normalised and split
    assert cmmd.release_tweet_text('Itâ€™s bad', str.split,
                                   lambda s: s) == "It 's bad"
    assert cmmd.normalize_tweet('x \u2764', str.split,
                                lambda s: s.replace('\u2764', ':heart:')) \
        == 'x :heart:'


# -- VGGSound-50k -------------------------------------------------------------


def make_raw_vggsound(root, seconds, names=('vAAAAAAAAAAA_0_10_out',
                                            'vBBBBBBBBBBB_5_15_out')):
    clips = osp.join(root, 'clips')
    os.makedirs(clips)
    for i, name in enumerate(names):
        write_video(osp.join(clips, name + '.mp4'), int(8 * seconds), fps=8,
                    size=(32, 24))
        # the second clip: 22.05 kHz audio, 0.5 s short (zero-padded)
        write_wav(osp.join(clips, name + '.wav'), seconds - 0.5 * i,
                  [16000, 22050][i], 300.0 + 200 * i)
    with open(osp.join(root, 'clips.csv'), 'w') as f:
        f.write('name,class_id\n')
        for i, name in enumerate(names):
            f.write(f'{name},{140 - i}\n')
    with open(osp.join(root, 'seg.json'), 'w') as f:
        # release format, keyed by the YouTube id name[1:12]
        json.dump([{'AAAAAAAAAAA': {'label': [0, 1] * (seconds // 2)}}], f)
    return clips, list(names)


class _MeanPixelNet(nn.Module):
    """[B, 3, S, S] -> [B, 512, 7, 7]: channel means, position-coded."""

    def forward(self, x):
        m = x.mean(dim=(2, 3))  # [B, 3]
        code = torch.arange(512, dtype=torch.float32).view(1, 512, 1, 1)
        return m[:, 0].view(-1, 1, 1, 1) + m[:, 1].view(-1, 1, 1, 1) * \
            0.01 * code + torch.zeros(1, 1, 7, 7)


def _check_normed(out, names, kind, shape):
    raw = [np.load(vgs.feature_path(out, kind, n, normed=False))
           for n in names]
    normed = [np.load(vgs.feature_path(out, kind, n)) for n in names]
    lo = min(r.min() for r in raw)
    hi = max(r.max() for r in raw)
    for r, x in zip(raw, normed):
        assert x.shape == shape and x.dtype == np.float32
        np.testing.assert_allclose(x, (r - lo) / (hi - lo), atol=1e-6)
    assert min(x.min() for x in normed) == 0.0
    assert abs(max(x.max() for x in normed) - 1.0) < 1e-6
    return raw, normed


def test_vggsound_extraction_library(tmp_path):
    clips, names = make_raw_vggsound(str(tmp_path), seconds=10)
    out = str(tmp_path / 'VGGS50K')
    torch.manual_seed(0)
    audio_net = nn.Sequential(nn.Flatten(), nn.Linear(96 * 64, 128))
    info = vgs.convert_vggsound(
        str(tmp_path / 'clips.csv'), clips, out, _MeanPixelNet(), audio_net,
        seg_labels=str(tmp_path / 'seg.json'), seconds=10, per_second=2,
        image_size=16, log=lambda m: None)
    assert info['num_clips'] == 2 and info['seg_labels'] == 1
    assert info['short_audio'] == [names[1]] and info['short_videos'] == []
    raw_v, _ = _check_normed(out, names, 'visual', (10, 7, 7, 512))
    raw_a, _ = _check_normed(out, names, 'audio', (10, 128))
    # visual: the mean of the two frames of each second, channels last
    frames, clamped = vgs.read_clip_frames(
        osp.join(clips, names[0] + '.mp4'), 10, 2)
    assert clamped == 0 and frames.shape == (20, 24, 32, 3)
    from mstkd.datasets.converters.features import extract_frame_features
    per_frame = extract_frame_features(frames, _MeanPixelNet(), 16)
    expected = per_frame.reshape(10, 2, 512, 7, 7).mean(1).permute(0, 2, 3, 1)
    np.testing.assert_allclose(raw_v[0], expected.numpy(), rtol=1e-5,
                               atol=1e-6)
    # audio: the net on the ten 0.96 s log-mel examples of the 16 kHz audio
    wave16k, padded = vgs.load_clip_audio(osp.join(clips, names[1] + '.wav'),
                                          10)
    assert padded and wave16k.shape == (160000, )
    with torch.no_grad():
        ref = audio_net(vgi.waveform_to_examples(wave16k)[:10])
    np.testing.assert_allclose(raw_a[1], ref.numpy(), rtol=1e-5, atol=1e-5)
    with open(osp.join(out, vgs.METADATA)) as f:
        assert f.read() == f'{names[0]}&140\n{names[1]}&139\n'
    seg = np.load(osp.join(out, 'seg_labels', f'{names[0]}_sLabel.npy'))
    assert seg.shape == (1, 10) and seg.tolist() == [[0, 1] * 5]
    assert not osp.exists(osp.join(out, 'seg_labels',
                                   f'{names[1]}_sLabel.npy'))
    # the dataset reader accepts the output
    from mstkd.datasets.vggsound import VGGSound50kDataset
    ds = VGGSound50kDataset(data_root=out, split='train', seed=0)
    assert len(ds) == 1 and ds[0]['inputs']['audio'].numel() == 1280


def test_vggsound_frame_times(tmp_path):
    idx = vgs.second_frame_indices(30.0, 10, 16)
    assert idx.shape == (10, 16)
    assert idx[0].tolist() == [int((k + 0.5) / 16 * 30) for k in range(16)]
    assert idx[3, 0] == int((3 + 1 / 32) * 30) and idx.max() == 299
    assert vgs.second_frame_indices(25.0, 10, 1).ravel().tolist() == \
        [12 + 25 * s for s in range(10)]
    path = str(tmp_path / 'v.mp4')
    write_video(path, 25, fps=10)  # 2.5 s: the third second runs out
    frames, clamped = vgs.read_clip_frames(path, 3, 2)
    assert clamped == 1  # frame 27 does not exist: the last (24) repeats
    # RGB now: colour (B, G, R) -> frames[..., 2], frames[..., 1]
    got = [decode_frame_number((f[5, 5, 2], f[5, 5, 1])) for f in frames]
    assert got == [2, 7, 12, 17, 22, 24]


def test_vggsound_tool_random_init(tmp_path):
    clips, names = make_raw_vggsound(str(tmp_path), seconds=2)
    out = str(tmp_path / 'VGGS50K')
    res = run_tool([
        f'{TOOLS}/extract_vggsound_features.py',
        str(tmp_path / 'clips.csv'), clips, '-o', out, '--random-init',
        '--seconds', '2', '--frames-per-second', '1', '--image-size', '32',
        '--seg-labels', str(tmp_path / 'seg.json')
    ])
    assert res.returncode == 0, res.stderr
    _check_normed(out, names, 'visual', (2, 7, 7, 512))
    _check_normed(out, names, 'audio', (2, 128))
    assert np.load(osp.join(out, 'seg_labels', f'{names[0]}_sLabel.npy'))\
        .tolist() == [[0, 1]]
    assert 'zeros appended' in res.stdout


def test_vggsound_inputs_errors(tmp_path, monkeypatch):
    bad = tmp_path / 'bad.csv'
    bad.write_text('clip,label\na,1\n')
    with pytest.raises(UserInputError, match='name and class_id'):
        vgs.read_clip_list(str(bad))
    bad.write_text('name,class_id\na,1\na,2\n')
    with pytest.raises(UserInputError, match='listed twice'):
        vgs.read_clip_list(str(bad))
    with pytest.raises(DataNotFoundError, match='No video'):
        vgs.find_clip_video(str(tmp_path), 'a')
    seg = tmp_path / 's.json'
    seg.write_text(json.dumps({'a': [1, 0, 1]}))
    assert vgs.read_seg_labels(str(seg), ['a', 'b'], 3)['a'].tolist() == \
        [[1, 0, 1]]
    with pytest.raises(UserInputError, match='10 values'):
        vgs.read_seg_labels(str(seg), ['a'], 10)
    with pytest.raises(UserInputError, match='--visual-weights'):
        _tool_main('extract_vggsound_features.py',
                   [str(bad), str(tmp_path), '-o', str(tmp_path / 'o')],
                   monkeypatch)


# -- VGGish -------------------------------------------------------------------


def test_vggish_examples_and_mel():
    mel = vgi.vggish_mel_matrix()
    assert mel.shape == (257, 64) and mel[0].abs().max() == 0
    peaks = mel.argmax(0)
    assert (peaks[1:] >= peaks[:-1]).all() and mel.max(0).values.min() > 0.5
    t = torch.arange(160000) / 16000.0
    ex = vgi.waveform_to_examples(0.5 * torch.sin(2 * np.pi * 1000.0 * t))
    assert ex.shape == (10, 1, 96, 64) and ex.dtype == torch.float32
    band = int(ex.mean(dim=(0, 1, 2)).argmax())
    hz = torch.linspace(0, 8000, 257)
    assert abs(float(hz[int(mel[:, band].argmax())]) - 1000.0) < 100.0
    assert vgi.waveform_to_examples(torch.zeros(16000)).shape[0] == 1
    assert vgi.waveform_to_examples(torch.zeros(8000)).shape[0] == 0


def test_vggish_network_keys_and_postprocessor(tmp_path):
    model = vgi.VGGish()
    assert model(torch.randn(2, 1, 96, 64)).shape == (2, 128)
    proto = {'features_network.0.weight': 1, 'embedding_network.4.bias': 2,
             'pproc.pca_means': 3, 'features.3.weight': 4}
    assert vgi.convert_vggish_keys(proto) == {
        'features.0.weight': 1, 'embeddings.4.bias': 2, 'features.3.weight': 4
    }
    bad = str(tmp_path / 'bad.pth')
    torch.save({'fc.weight': torch.zeros(1)}, bad)
    with pytest.raises(UserInputError, match='not a VGGish state dict'):
        vgi.load_vggish_weights(model, bad)
    perm = torch.eye(128)[torch.randperm(128)]
    pca = str(tmp_path / 'pca.pth')
    torch.save({'pca_eigen_vectors': perm,
                'pca_means': torch.ones(128, 1)}, pca)
    post = vgi.VGGishPostprocessor.from_file(pca)
    x = torch.zeros(1, 128)
    x[0, :5] = torch.tensor([-4.0, 0.0, 2.0, 4.0, 1.5])  # minus mean 1
    y = post(x)
    expected = torch.round((((x - 1) @ perm.T).clamp(-2, 2) + 2) * 63.75)
    torch.testing.assert_close(y, expected)
    assert y[0, perm[:, :5].argmax(0)].tolist() == [0, 64, 191, 255, 159]
    assert y.min() >= 0 and y.max() <= 255


def test_load_audio_non_pcm_needs_torchcodec(tmp_path):
    path = str(tmp_path / 'clip.mp4')
    open(path, 'wb').close()
    if importlib.util.find_spec('torchcodec') is None:
        with pytest.raises(UserInputError, match='ffmpeg'):
            load_audio(path)
    with pytest.raises(DataNotFoundError):
        load_audio(str(tmp_path / 'missing.wav'))
