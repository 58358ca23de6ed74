"""Measure the memory and time of building a benchmark dataset at full size.

    python tools/analysis_tools/dataset_memory.py --dataset ravdess \
        [--tmp-dir /tmp] [--keep] [--items 300]
    python tools/analysis_tools/dataset_memory.py --dataset av_mnist \
        --data-root data/avmnist          # measure real release files

Without ``--data-root``, synthetic files of the REAL release shapes and
dtypes (random values) are written under ``--tmp-dir`` first, and deleted at
the end unless ``--keep``:

- ``av_mnist``: image 60,000 + 10,000 x 784 float32, audio 60,000 + 10,000 x
  112 x 112 float32 (3.7 GB), labels int64;
- ``ravdess``: video 1,440 x 15 x 3 x 224 x 224 uint8 (3.25 GB), audio
  1,440 x 15 x 156 float32, labels int64;
- ``vggsound``: ``--vgg-clips`` clips (default 2,000, 2 GB: 1 MB of visual
  features per clip) with their metadata lines. The real set has ~49k clips,
  but memory does not grow with the clip count beyond the list of names
  (~5 MB for 50k), since features are loaded per item; the item loop shows
  that the resident memory stays flat while the 1,200 training clips are
  read;
- ``crisismmd``: 16,058 x (2,048 + 768) float32 numpy arrays + int64 labels
  in ``CMMD_data.pth`` (as the release saves it).

Writing runs in a child process and measuring in another one (a process's
peak RSS is carried over into the programs it starts, so the launcher stays
small). The measuring process builds the train/val/test datasets (the
configuration of a training run), and reads ``--items`` training items in a
shuffled order. It prints the build time, the peak resident memory
(``resource.getrusage(RUSAGE_SELF).ru_maxrss``) after the imports, after the
build and after the item loop, and the current anonymous / file-backed
resident memory (``RssAnon`` / ``RssFile`` of /proc/self/status): pages of a
memory-mapped file (RAVDESS video) count as ``RssFile``; the kernel can drop
them at any time, unlike ``RssAnon``.
"""
import argparse
import json
import os
import os.path as osp
import resource
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np

DATASETS = ('av_mnist', 'ravdess', 'vggsound', 'crisismmd')
CLASS_NAMES = dict(av_mnist='AVMNISTDataset',
                   ravdess='RAVDESSDataset',
                   vggsound='VGGSound50kDataset',
                   crisismmd='CrisisMMDDataset')
GB = 1024**3  # figures are in GiB


# -- writing synthetic release files ---------------------------------------
def _write_npy(path: str, shape: tuple, dtype, fill, rows: int = 1000):
    """Write a ``.npy`` of ``shape`` chunk by chunk: ``fill(rng, shape)``."""
    rng = np.random.default_rng(0)
    os.makedirs(osp.dirname(path), exist_ok=True)
    out = np.lib.format.open_memmap(path, 'w+', dtype, shape)
    for start in range(0, shape[0], rows):
        n = min(rows, shape[0] - start)
        out[start:start + n] = fill(rng, (n, ) + tuple(shape[1:]))
    out.flush()
    del out


def _uniform(scale):
    return lambda rng, shape: rng.random(shape, dtype=np.float32) * scale


def _labels(num_classes):
    return lambda rng, shape: rng.integers(0, num_classes, shape)


def write_av_mnist(root: str) -> str:
    data_root = osp.join(root, 'avmnist')
    for part, n in (('train', 60000), ('test', 10000)):
        _write_npy(osp.join(data_root, 'image', f'{part}_data.npy'), (n, 784),
                   np.float32, _uniform(255))
        _write_npy(osp.join(data_root, 'audio', f'{part}_data.npy'),
                   (n, 112, 112), np.float32, _uniform(255))
        _write_npy(osp.join(data_root, f'{part}_labels.npy'), (n, ), np.int64,
                   _labels(10))
    return data_root


def write_ravdess(root: str) -> str:
    data_root = osp.join(root, 'RAVDESS_preprocessed_npy')
    _write_npy(osp.join(data_root, 'video_data.npy'), (1440, 15, 3, 224, 224),
               np.uint8,
               lambda rng, shape: rng.integers(0, 256, shape, np.uint8),
               rows=32)
    _write_npy(osp.join(data_root, 'audio_data.npy'), (1440, 15, 156),
               np.float32, _uniform(100))
    _write_npy(osp.join(data_root, 'label_data.npy'), (1440, ), np.int64,
               _labels(8))
    return data_root


def write_vggsound(root: str, clips: int) -> str:
    data_root = osp.join(root, 'VGGS50K')
    feats = osp.join(data_root, 'VGGS50K_features_normed')
    dirs = [
        osp.join(feats, 'visual_features'),
        osp.join(feats, 'audio_features'),
        osp.join(data_root, 'seg_labels')
    ]
    for d in dirs:
        os.makedirs(d, exist_ok=True)
    rng = np.random.default_rng(0)
    lines = []
    for i in range(clips):
        name = f'clip{i:06d}_{(i * 10) % 300:06d}'
        np.save(osp.join(dirs[0], f'{name}_vFeature.npy'),
                rng.random((10, 7, 7, 512), dtype=np.float32))
        np.save(osp.join(dirs[1], f'{name}_aFeature.npy'),
                rng.random((10, 128), dtype=np.float32))
        np.save(osp.join(dirs[2], f'{name}_sLabel.npy'), (rng.random(
            (1, 10)) < 0.7).astype(np.float64))
        lines.append(f'{name}&{int(rng.integers(0, 141))}')
    with open(osp.join(data_root, 'VGGS50k_metadata.txt'), 'w') as f:
        f.write('\n'.join(lines) + '\n')
    return data_root


def write_crisismmd(root: str) -> str:
    import torch
    data_root = osp.join(root, 'CMMD-V2')
    os.makedirs(data_root, exist_ok=True)
    rng = np.random.default_rng(0)
    n = 16058
    torch.save((rng.random(
        (n, 2048), dtype=np.float32), rng.random(
            (n, 768), dtype=np.float32), rng.integers(0, 8, n)),
               osp.join(data_root, 'CMMD_data.pth'))
    return data_root


def folder_bytes(path: str) -> int:
    return sum(
        osp.getsize(osp.join(d, f)) for d, _, files in os.walk(path)
        for f in files)


# -- measuring (in a fresh process) ------------------------------------------
def rss_status() -> dict:
    """Current RssAnon / RssFile in GiB (Linux)."""
    out = {}
    try:
        with open('/proc/self/status') as f:
            for line in f:
                key = line.split(':')[0]
                if key in ('RssAnon', 'RssFile'):
                    out[key] = int(line.split()[1]) * 1024 / GB
    except OSError:
        pass
    return out


def peak_rss_gb() -> float:
    # ru_maxrss is in KB on Linux
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / GB


def measure(dataset: str, data_root: str, items: int) -> dict:
    """Build train/val/test of ``dataset`` and read ``items`` train items."""
    import torch

    import mstkd.datasets as ds_module
    torch.set_num_threads(1)
    result = dict(dataset=dataset,
                  data_root=data_root,
                  peak_rss_after_imports_gb=peak_rss_gb())
    cls = getattr(ds_module, CLASS_NAMES[dataset])
    start = time.perf_counter()
    sets = {
        s: cls(data_root, split=s, seed=0)
        for s in ('train', 'val', 'test')
    }
    result['build_s'] = time.perf_counter() - start
    result['sizes'] = {s: len(d) for s, d in sets.items()}
    result['peak_rss_after_build_gb'] = peak_rss_gb()
    result['rss_after_build_gb'] = rss_status()
    train = sets['train']
    order = np.random.default_rng(0).permutation(len(train))[:items]
    marks = {max(1, len(order) * k // 10) for k in (1, 5, 10)}
    trace = []
    start = time.perf_counter()
    for count, i in enumerate(order, 1):
        item = train[int(i)]
        if count in marks:
            trace.append(
                dict(items=count, peak_rss_gb=peak_rss_gb(), **rss_status()))
    elapsed = time.perf_counter() - start
    result['items'] = len(order)
    result['item_loop_s'] = elapsed
    result['ms_per_item'] = 1000 * elapsed / max(len(order), 1)
    result['item_shapes'] = {
        m: list(t.shape)
        for m, t in item['inputs'].items()
    } if len(order) else {}
    result['trace'] = trace
    result['peak_rss_gb'] = peak_rss_gb()
    return result


def report(res: dict) -> str:
    lines = [
        f'{res["dataset"]}: {res["data_root"]}',
        f'  splits {res["sizes"]}, item shapes {res["item_shapes"]}',
        f'  build train/val/test: {res["build_s"]:.1f} s; peak RSS '
        f'{res["peak_rss_after_build_gb"]:.2f} GiB (after imports '
        f'{res["peak_rss_after_imports_gb"]:.2f} GiB; now ' +
        ', '.join(f'{k} {v:.2f} GiB'
                  for k, v in res['rss_after_build_gb'].items()) + ')',
        f'  {res["items"]} train items in {res["item_loop_s"]:.1f} s '
        f'({res["ms_per_item"]:.2f} ms/item); peak RSS '
        f'{res["peak_rss_gb"]:.2f} GiB'
    ]
    for t in res['trace']:
        lines.append(f'    after {t["items"]:5d} items: peak RSS '
                     f'{t["peak_rss_gb"]:.2f} GiB, RssAnon '
                     f'{t.get("RssAnon", float("nan")):.2f} GiB, RssFile '
                     f'{t.get("RssFile", float("nan")):.2f} GiB')
    return '\n'.join(lines)


def run_child(cmd: list, env: dict) -> tuple:
    """Run ``cmd`` in a child process.

    Args:
        cmd (list): The command line.
        env (dict): Its environment.

    Returns:
        tuple: ``(returncode, the last line of its stdout)``; when it fails,
        its stderr is copied to ours and the line is ``''``.
    """
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr)
        return proc.returncode, ''
    return 0, proc.stdout.strip().splitlines()[-1]


def main():
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--dataset', choices=DATASETS, required=True)
    parser.add_argument('--data-root',
                        help='measure these release files '
                        'instead of writing synthetic ones')
    parser.add_argument('--tmp-dir',
                        default=tempfile.gettempdir(),
                        help='where synthetic files are written')
    parser.add_argument('--keep',
                        action='store_true',
                        help='keep the synthetic files')
    parser.add_argument('--items',
                        type=int,
                        default=None,
                        help='train items read after the build (default: '
                        '2000; ravdess 300; vggsound all)')
    parser.add_argument('--vgg-clips',
                        type=int,
                        default=2000,
                        help='synthetic VGGSound clips (1 MB each)')
    parser.add_argument('--json', help='also write the figures to this file')
    parser.add_argument('--measure',
                        action='store_true',
                        help=argparse.SUPPRESS)  # the measuring child
    parser.add_argument('--write', help=argparse.SUPPRESS)  # the writer
    args = parser.parse_args()
    items = args.items
    if items is None:
        items = dict(ravdess=300, vggsound=10**9).get(args.dataset, 2000)

    if args.measure:
        from mstkd.utils.errors import UserInputError
        try:
            print(json.dumps(measure(args.dataset, args.data_root, items)))
        except UserInputError as err:
            print(f'error: {err}', file=sys.stderr)
            return 2
        return 0

    if args.write:
        writer = dict(av_mnist=write_av_mnist,
                      ravdess=write_ravdess,
                      crisismmd=write_crisismmd,
                      vggsound=lambda r: write_vggsound(r, args.vgg_clips))
        print(writer[args.dataset](args.write))
        return 0

    # Writing and measuring each run in a child process: Linux carries a
    # process's peak RSS over into the programs it starts (ru_maxrss
    # survives fork + exec), so this parent stays small (numpy only).
    repo = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
    env = dict(os.environ)
    env['PYTHONPATH'] = repo + os.pathsep + env.get('PYTHONPATH', '')
    me = [sys.executable, osp.abspath(__file__), '--dataset', args.dataset]
    workdir = None
    data_root = args.data_root
    try:
        if data_root is None:
            workdir = tempfile.mkdtemp(prefix='mstkd_dataset_memory_',
                                       dir=args.tmp_dir)
            start = time.perf_counter()
            rc, data_root = run_child(
                me + ['--write', workdir, '--vgg-clips',
                      str(args.vgg_clips)], env)
            if rc != 0:
                return rc
            print(
                f'wrote {folder_bytes(data_root) / GB:.2f} GiB of synthetic '
                f'{args.dataset} files to {data_root} in '
                f'{time.perf_counter() - start:.0f} s',
                flush=True)
        rc, line = run_child(
            me + ['--measure', '--data-root', data_root, '--items',
                  str(items)], env)
        if rc != 0:
            return rc
        res = json.loads(line)
        print(report(res))
        if args.json:
            with open(args.json, 'w') as f:
                json.dump(res, f, indent=2)
        return 0
    finally:
        if workdir is not None:
            if args.keep:
                print(f'kept {workdir}')
            else:
                shutil.rmtree(workdir, ignore_errors=True)


if __name__ == '__main__':
    sys.exit(main())
