#!/usr/bin/env python
"""Regenerate the embedded AV-Digits dataset (a miniature AV-MNIST).

AV-Digits pairs real handwritten digits with synthetic spoken digits:

* **Images**: the 5,000 handwritten digits (20x20, 500 per class) of
  OpenCV's sample ``digits.png`` (Debian package ``opencv-doc``), padded to
  28x28 and made weak by removing 75% of their PCA energy (as in AV-MNIST).
* **Audio**: the words "zero" .. "nine" spoken by ``espeak-ng`` and ``flite``
  over many voices/accents/rates/pitches, mixed with synthetic noise at a
  random SNR, resampled to 8 kHz and centred in a fixed-length int16 clip.
  The clips are split into three voice-disjoint pools (train/val/test).

Everything is generated offline from Debian packages::

    apt-get install -y espeak-ng flite
    cd /tmp && apt-get download opencv-doc
    python tools/dataset_converters/make_avdigits.py \\
        --opencv-doc-deb /tmp/opencv-doc_*.deb \\
        --out mstkd/datasets/data/avdigits/avdigits.npz

The output is deterministic for a given ``--seed`` (espeak-ng and flite are
deterministic programs; the same package versions give the same bytes).
See ``mstkd/datasets/data/avdigits/README.md`` for the full description.
"""
import argparse
import gzip
import io
import os
import os.path as osp
import shutil
import subprocess
import sys
import tempfile
import wave

import numpy as np

VERSION = '1.0'
SAMPLE_RATE = 8000
WORDS = ('zero', 'one', 'two', 'three', 'four', 'five', 'six', 'seven',
         'eight', 'nine')

DIGITS_PNG_REL = 'usr/share/doc/opencv-doc/examples/data/digits.png'

# espeak-ng English accents and voice variants (timbres). A voice is one
# (accent, variant) combination; the 8 x 33 voices are split at random into
# the train / val / test pools (ESPEAK_POOL_FRACTIONS), so no test voice is
# ever heard in training while training covers every accent and variant.
ESPEAK_ACCENTS = ('en', 'en-us', 'en-us-nyc', 'en-gb-scotland', 'en-gb-x-rp',
                  'en-029', 'en-gb-x-gbclan', 'en-gb-x-gbcwmd')
ESPEAK_VARIANTS = ('m1', 'm2', 'm3', 'm4', 'm5', 'm6', 'm7', 'm8', 'f1', 'f2',
                   'f3', 'f4', 'f5', 'klatt', 'klatt2', 'klatt3', 'klatt4',
                   'croak', 'Alex', 'Andy', 'annie', 'adam', 'benjamin',
                   'caleb', 'david', 'edward', 'john', 'linda', 'max',
                   'paul', 'robert', 'shelby', 'steph')
ESPEAK_POOL_FRACTIONS = (0.7, 0.12, 0.18)
# flite voices, disjoint between pools (kal and kal16 are the same speaker).
FLITE_VOICES = {
    0: ('kal', 'kal16', 'awb'),
    1: ('rms', ),
    2: ('slt', ),
}
POOL_NAMES = ('train', 'val', 'test')
FLITE_PROB = 0.25  # probability that a clip is spoken by a flite voice

NOISE_TYPES = ('white', 'pink', 'brown', 'babble')

INSTALL_HINT = {
    'espeak-ng': 'apt-get install -y espeak-ng',
    'flite': 'apt-get install -y flite',
    'dpkg-deb': 'apt-get install -y dpkg',
}


def parse_args():
    parser = argparse.ArgumentParser(
        description='Regenerate the AV-Digits npz from Debian packages '
        '(opencv-doc, espeak-ng, flite).')
    parser.add_argument(
        '--out',
        default='mstkd/datasets/data/avdigits/avdigits.npz',
        help='output .npz path')
    parser.add_argument('--seed', type=int, default=0, help='random seed')
    parser.add_argument(
        '--opencv-doc-deb',
        default=None,
        help='path to opencv-doc_*.deb (from `apt-get download opencv-doc`);'
        ' if omitted, the installed /' + DIGITS_PNG_REL + ' is used')
    parser.add_argument(
        '--clips-per-digit',
        type=int,
        nargs=3,
        default=[60, 15, 20],
        metavar=('TRAIN', 'VAL', 'TEST'),
        help='number of clips per digit in each pool')
    parser.add_argument(
        '--clip-seconds', type=float, default=0.8, help='clip length (s)')
    parser.add_argument(
        '--snr-db',
        type=float,
        nargs=2,
        default=[5.0, 20.0],
        metavar=('LOW', 'HIGH'),
        help='speech-to-noise ratio range (dB), drawn uniformly per clip')
    parser.add_argument(
        '--pca-energy-removed',
        type=float,
        default=0.75,
        help='fraction of the image PCA energy removed')
    parser.add_argument(
        '--image-noise',
        type=float,
        default=1.0,
        help='std of Gaussian pixel noise added after the PCA step, relative '
        'to the std of the reconstructed pixels (0 = none)')
    parser.add_argument(
        '--quiet', action='store_true', help='print less progress output')
    return parser.parse_args()


def require_tool(name):
    if shutil.which(name) is None:
        sys.exit(f'error: `{name}` not found; install it with '
                 f'`{INSTALL_HINT.get(name, "apt-get install -y " + name)}`')


# --------------------------------------------------------------------------
# images
# --------------------------------------------------------------------------
def _read_png_bytes(path):
    if path.endswith('.gz'):
        with gzip.open(path, 'rb') as f:
            return f.read()
    with open(path, 'rb') as f:
        return f.read()


def find_digits_png(deb_path, tmpdir):
    """Return the bytes of OpenCV's ``digits.png``."""
    if deb_path is not None:
        if not osp.isfile(deb_path):
            sys.exit(f'error: {deb_path} does not exist; get it with '
                     '`cd /tmp && apt-get download opencv-doc`')
        require_tool('dpkg-deb')
        root = osp.join(tmpdir, 'opencv-doc')
        subprocess.run(['dpkg-deb', '-x', deb_path, root], check=True)
        candidates = [osp.join(root, DIGITS_PNG_REL)]
    else:
        candidates = ['/' + DIGITS_PNG_REL]
    for cand in candidates:
        for path in (cand, cand + '.gz'):
            if osp.isfile(path):
                return _read_png_bytes(path)
    sys.exit('error: digits.png not found; either `apt-get install -y '
             'opencv-doc` or `cd /tmp && apt-get download opencv-doc` and pass'
             ' --opencv-doc-deb /tmp/opencv-doc_*.deb')


def load_digit_images(png_bytes):
    """Cut the 2000x1000 sheet into 5000 20x20 digits, pad to 28x28."""
    import cv2
    sheet = cv2.imdecode(
        np.frombuffer(png_bytes, np.uint8), cv2.IMREAD_GRAYSCALE)
    assert sheet.shape == (1000, 2000), sheet.shape
    cells = sheet.reshape(50, 20, 100, 20).transpose(0, 2, 1, 3)  # r,c,20,20
    images = cells.reshape(5000, 20, 20)
    # row r holds digit r // 5 (5 rows x 100 columns per digit)
    labels = np.repeat(np.arange(10, dtype=np.int64), 500)
    padded = np.zeros((5000, 28, 28), np.uint8)
    padded[:, 4:24, 4:24] = images
    return padded, labels


def pca_energy_removal(images, fraction, noise=0.0, rs=None):
    """Remove the leading principal components holding ``fraction`` energy.

    Returns the reconstructed images (mean added back), optionally with
    Gaussian pixel noise of ``noise`` x the std of the reconstructed pixels,
    rescaled per image to uint8 0..255, and the number of removed components.
    """
    x = images.reshape(len(images), -1).astype(np.float64)
    mean = x.mean(0, keepdims=True)
    xc = x - mean
    # right singular vectors = principal axes; s**2 = variance * (n - 1)
    _, s, vt = np.linalg.svd(xc, full_matrices=False)
    energy = s**2 / np.sum(s**2)
    k = int(np.searchsorted(np.cumsum(energy), fraction) + 1)
    v = vt[:k].T  # [784, k]
    xr = xc - (xc @ v) @ v.T + mean
    if noise > 0:
        xr = xr + rs.normal(0.0, noise * xr.std(), xr.shape)
    lo = xr.min(1, keepdims=True)
    hi = xr.max(1, keepdims=True)
    xr = (xr - lo) / np.maximum(hi - lo, 1e-12)
    out = np.round(xr * 255.0).astype(np.uint8).reshape(images.shape)
    return out, k, float(np.cumsum(energy)[k - 1])


# --------------------------------------------------------------------------
# audio
# --------------------------------------------------------------------------
def read_wav(data):
    with wave.open(io.BytesIO(data)) as w:
        assert w.getsampwidth() == 2 and w.getnchannels() == 1
        sr = w.getframerate()
        x = np.frombuffer(w.readframes(w.getnframes()), '<i2')
    return x.astype(np.float32) / 32768.0, sr


def synthesize(engine, voice, word, rate, pitch, tmpdir):
    """Run a TTS engine and return (float32 waveform, sample rate)."""
    if engine == 'espeak-ng':
        cmd = ['espeak-ng', '-v', voice, '-s', str(rate), '-p', str(pitch),
               '--stdout', word]
        data = subprocess.run(cmd, check=True, capture_output=True).stdout
    else:
        path = osp.join(tmpdir, 'flite.wav')
        cmd = ['flite', '-voice', voice, '--setf',
               f'duration_stretch={rate:.3f}', '-t', word, '-o', path]
        subprocess.run(cmd, check=True, capture_output=True)
        with open(path, 'rb') as f:
            data = f.read()
    return read_wav(data)


def resample(x, sr):
    if sr == SAMPLE_RATE:
        return x
    import torch
    import torchaudio.functional as AF
    y = AF.resample(torch.from_numpy(x)[None], sr, SAMPLE_RATE)[0]
    return y.numpy().astype(np.float32)


def trim_silence(x, thresh_db=-35.0, frame=80):
    """Trim leading/trailing frames quieter than ``thresh_db`` re. the peak."""
    n = len(x) // frame
    e = (x[:n * frame].reshape(n, frame)**2).mean(1) + 1e-12
    e_db = 10 * np.log10(e / e.max())
    active = np.nonzero(e_db > thresh_db)[0]
    return x[active[0] * frame:(active[-1] + 1) * frame]


def colored_noise(rs, n, kind):
    """Unit-RMS white / pink (1/f) / brown (1/f^2) Gaussian noise."""
    w = rs.randn(n)
    if kind != 'white':
        spec = np.fft.rfft(w)
        f = np.fft.rfftfreq(n)
        f[0] = f[1]
        spec = spec / (np.sqrt(f) if kind == 'pink' else f)
        w = np.fft.irfft(spec, n)
    w = w - w.mean()
    return (w / (np.sqrt(np.mean(w**2)) + 1e-12)).astype(np.float32)


def babble_noise(rs, n, speech_bank, exclude):
    """Unit-RMS babble: 3-5 other clean utterances at random offsets."""
    out = np.zeros(n, np.float32)
    k = rs.randint(3, 6)
    for _ in range(k):
        j = exclude
        while j == exclude:
            j = rs.randint(len(speech_bank))
        s = speech_bank[j]
        s = s / (np.sqrt(np.mean(s**2)) + 1e-12)
        start = rs.randint(-len(s) // 2, n - len(s) // 2)
        a, b = max(start, 0), min(start + len(s), n)
        out[a:b] += s[a - start:b - start] * rs.uniform(0.5, 1.0)
    return out / (np.sqrt(np.mean(out**2)) + 1e-12)


def build_voices(seed):
    """All voices and the pool of each: espeak-ng (accent, variant) voices
    split at random (fixed by ``seed``), flite speakers as listed."""
    combos = [f'espeak-ng:{acc}+{var}' for var in ESPEAK_VARIANTS
              for acc in ESPEAK_ACCENTS]
    order = np.random.RandomState(seed + 2).permutation(len(combos))
    n_train = int(ESPEAK_POOL_FRACTIONS[0] * len(combos))
    n_val = int(ESPEAK_POOL_FRACTIONS[1] * len(combos))
    pool_of = np.full(len(combos), 2)
    pool_of[order[:n_train]] = 0
    pool_of[order[n_train:n_train + n_val]] = 1
    voices, pool_of_voice = [], []
    for pool in (0, 1, 2):
        voices += [c for c, p in zip(combos, pool_of) if p == pool]
        voices += [f'flite:{v}' for v in FLITE_VOICES[pool]]
        pool_of_voice += [pool] * (len(voices) - len(pool_of_voice))
    return voices, np.array(pool_of_voice)


def make_audio(args, rs, tmpdir, log):
    L = int(round(args.clip_seconds * SAMPLE_RATE))
    max_speech = int(0.95 * L)
    voices, pool_of_voice = build_voices(args.seed)
    vindex = {v: i for i, v in enumerate(voices)}
    espeak_of_pool = {
        p: [v.split(':', 1)[1] for v, q in zip(voices, pool_of_voice)
            if q == p and v.startswith('espeak-ng:')] for p in (0, 1, 2)}

    # 1) clean utterances ------------------------------------------------
    plan = []  # (pool, label)
    for pool in (0, 1, 2):
        for label in range(10):
            plan += [(pool, label)] * args.clips_per_digit[pool]
    speech, clip_voice, clip_labels, clip_pool = [], [], [], []
    for i, (pool, label) in enumerate(plan):
        if rs.rand() < FLITE_PROB:
            engine = 'flite'
            name = FLITE_VOICES[pool][rs.randint(len(FLITE_VOICES[pool]))]
            rate = rs.uniform(0.8, 1.25)  # duration stretch
            pitch = 0
        else:
            engine = 'espeak-ng'
            name = espeak_of_pool[pool][rs.randint(
                len(espeak_of_pool[pool]))]
            rate = int(rs.randint(130, 231))  # words per minute
            pitch = int(rs.randint(15, 86))  # 0..99, default 50
        x = None
        for _ in range(8):  # speed up until the word fits into the clip
            x, sr = synthesize(engine, name, WORDS[label], rate, pitch,
                               tmpdir)
            x = trim_silence(resample(x, sr))
            if len(x) <= max_speech:
                break
            rate = rate * 0.9 if engine == 'flite' else int(rate * 1.12)
        x = x[:max_speech]
        speech.append(x)
        clip_voice.append(vindex[f'{engine}:{name}'])
        clip_labels.append(label)
        clip_pool.append(pool)
        if not args.quiet and (i + 1) % 100 == 0:
            log(f'synthesized {i + 1}/{len(plan)} utterances')

    clip_pool = np.array(clip_pool, np.uint8)
    clip_voice = np.array(clip_voice, np.int16)
    assert np.all(pool_of_voice[clip_voice] == clip_pool)

    # 2) centre + noise ---------------------------------------------------
    clips = np.zeros((len(plan), L), np.int16)
    snrs = np.zeros(len(plan), np.float32)
    noise_kind = []
    for i, s in enumerate(speech):
        s = s / (np.sqrt(np.mean(s**2)) + 1e-12)  # unit speech power
        x = np.zeros(L, np.float32)
        start = (L - len(s)) // 2
        x[start:start + len(s)] = s
        kind = NOISE_TYPES[rs.randint(len(NOISE_TYPES))]
        if kind == 'babble':
            same_pool = np.nonzero(clip_pool == clip_pool[i])[0]
            bank = [speech[j] for j in same_pool]
            noise = babble_noise(rs, L, bank, int(np.searchsorted(
                same_pool, i)))
        else:
            noise = colored_noise(rs, L, kind)
        snr = rs.uniform(*args.snr_db)
        x = x + noise * np.float32(10**(-snr / 20))
        x = x / (np.abs(x).max() + 1e-12) * 0.9
        clips[i] = np.round(x * 32767).astype(np.int16)
        snrs[i] = snr
        noise_kind.append(kind)
    return dict(
        clips=clips,
        clip_labels=np.array(clip_labels, np.int64),
        clip_pool=clip_pool,
        clip_voice=clip_voice,
        clip_snr_db=snrs,
        voices=np.array(voices, dtype=np.str_),
        speech_len=np.array([len(s) for s in speech]),
        noise_kind=np.array(noise_kind))


def main():
    args = parse_args()
    log = (lambda *a: None) if args.quiet else (lambda *a: print(*a))
    require_tool('espeak-ng')
    require_tool('flite')
    rs = np.random.RandomState(args.seed)
    with tempfile.TemporaryDirectory() as tmpdir:
        png = find_digits_png(args.opencv_doc_deb, tmpdir)
        images, labels = load_digit_images(png)
        images, k, removed = pca_energy_removal(
            images, args.pca_energy_removed, args.image_noise,
            np.random.RandomState(args.seed + 1))
        log(f'PCA: removed {k} leading components '
            f'({100 * removed:.2f}% of the energy)')
        audio = make_audio(args, rs, tmpdir, log)
    speech_len = audio.pop('speech_len')
    noise_kind = audio.pop('noise_kind')
    out = dict(
        images=images,
        labels=labels,
        clips=audio['clips'],
        clip_labels=audio['clip_labels'],
        clip_pool=audio['clip_pool'],
        clip_voice=audio['clip_voice'],
        clip_snr_db=audio['clip_snr_db'],
        voices=audio['voices'],
        sample_rate=np.array(SAMPLE_RATE, np.int64),
        version=np.array(VERSION, dtype=np.str_))
    os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
    np.savez_compressed(args.out, **out)
    log(f'wrote {args.out} ({osp.getsize(args.out) / 2**20:.2f} MiB)')
    for p in (0, 1, 2):
        m = out['clip_pool'] == p
        used = sorted({out['voices'][v] for v in out['clip_voice'][m]})
        log(f'pool {p} ({POOL_NAMES[p]}): {m.sum()} clips, '
            f'{len(used)} distinct voices used, speech '
            f'{speech_len[m].mean() / SAMPLE_RATE:.2f}s mean / '
            f'{speech_len[m].max() / SAMPLE_RATE:.2f}s max, noise '
            + ', '.join(f'{k}={int((noise_kind[m] == k).sum())}'
                        for k in NOISE_TYPES))


if __name__ == '__main__':
    main()
