"""Checks on the embedded AV-Digits data file and the log-mel front end."""
import os.path as osp

import numpy as np
import pytest
import torch

from mstkd.datasets.audio import log_mel_spectrogram

DATA_FILE = osp.join(
    osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))), 'mstkd',
    'datasets', 'data', 'avdigits', 'avdigits.npz')
KEYS = {
    'images', 'labels', 'clips', 'clip_labels', 'clip_pool', 'clip_voice',
    'clip_snr_db', 'voices', 'sample_rate', 'version'
}


@pytest.fixture(scope='module')
def data():
    assert osp.isfile(DATA_FILE), DATA_FILE
    with np.load(DATA_FILE, allow_pickle=False) as npz:
        return {k: npz[k] for k in npz.files}


def test_file_size():
    assert osp.getsize(DATA_FILE) <= 15 * 10**6


def test_keys_dtypes_shapes(data):
    assert set(data) == KEYS
    images, labels = data['images'], data['labels']
    assert images.dtype == np.uint8 and images.shape == (5000, 28, 28)
    assert labels.dtype == np.int64 and labels.shape == (5000, )
    assert np.array_equal(np.bincount(labels, minlength=10), [500] * 10)
    # the 4-pixel MNIST-style border exists but the PCA residual fills it,
    # so only sanity-check the value range and that images are not constant
    assert images.min() == 0 and images.max() == 255
    assert np.all(images.reshape(5000, -1).std(1) > 0)

    clips = data['clips']
    C = len(clips)
    assert clips.dtype == np.int16 and clips.ndim == 2 and C > 0
    assert data['sample_rate'].shape == () and int(data['sample_rate']) == 8000
    assert data['sample_rate'].dtype == np.int64
    assert 0.5 <= clips.shape[1] / 8000 <= 1.5
    for key, dtype in (('clip_labels', np.int64), ('clip_pool', np.uint8),
                       ('clip_voice', np.int16), ('clip_snr_db', np.float32)):
        assert data[key].dtype == dtype, key
        assert data[key].shape == (C, ), key
    assert set(np.unique(data['clip_labels'])) == set(range(10))
    assert set(np.unique(data['clip_pool'])) == {0, 1, 2}
    assert np.all(np.isfinite(data['clip_snr_db']))
    voices = data['voices']
    assert voices.dtype.kind == 'U' and voices.ndim == 1
    assert len(set(voices.tolist())) == len(voices)
    assert data['clip_voice'].min() >= 0
    assert data['clip_voice'].max() < len(voices)
    assert data['version'].dtype.kind == 'U' and data['version'].shape == ()
    # clips are not silent
    assert np.all(np.abs(clips.astype(np.int32)).max(1) > 1000)


def test_pools(data):
    pool, lab = data['clip_pool'], data['clip_labels']
    # every digit is present in every pool, with a reasonable count
    for p, min_count in ((0, 40), (1, 10), (2, 10)):
        counts = np.bincount(lab[pool == p], minlength=10)
        assert counts.min() >= min_count, (p, counts)
    # no clip is stored in two pools (bit-identical waveform)
    clips = data['clips']
    digest = {}
    for i in range(len(clips)):
        key = clips[i].tobytes()
        assert digest.setdefault(key, pool[i]) == pool[i], i


def test_voice_disjoint(data):
    pool, voice = data['clip_pool'], data['clip_voice']
    names = data['voices']
    train_v = set(names[voice[pool == 0]].tolist())
    val_v = set(names[voice[pool == 1]].tolist())
    test_v = set(names[voice[pool == 2]].tolist())
    assert train_v and val_v and test_v
    assert not test_v & train_v
    assert not test_v & val_v
    assert not val_v & train_v
    for v in names.tolist():
        assert v.split(':')[0] in ('espeak-ng', 'flite'), v


def test_log_mel_spectrogram_on_clips(data):
    clips = data['clips'][:5]
    sr = int(data['sample_rate'])
    spec = log_mel_spectrogram(clips, sr)
    assert isinstance(spec, torch.Tensor)
    assert spec.dtype == torch.float32 and spec.shape == (5, 112, 112)
    assert torch.isfinite(spec).all()
    assert (spec.flatten(1).std(1) > 0).all()
    # torch input in float gives the same result as int16 numpy input
    spec_t = log_mel_spectrogram(
        torch.from_numpy(clips).float() / 32768.0, sr)
    torch.testing.assert_close(spec_t, spec)
    # the result does not depend on batching
    spec_b = log_mel_spectrogram(clips, sr, batch_size=2)
    torch.testing.assert_close(spec_b, spec)


@pytest.mark.parametrize('length', [100, 6400, 8123])
def test_log_mel_spectrogram_shapes(length):
    rng = np.random.RandomState(0)
    wav = (rng.randn(3, length) * 3000).astype(np.int16)
    out = log_mel_spectrogram(wav, 8000, n_mels=64, n_frames=40)
    assert out.shape == (3, 64, 40) and out.dtype == torch.float32
    assert torch.isfinite(out).all()
    assert log_mel_spectrogram(wav[0], 8000).shape == (1, 112, 112)
    with pytest.raises(ValueError):
        log_mel_spectrogram(np.zeros((2, 3, 4), np.int16), 8000)
