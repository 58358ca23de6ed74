"""Measure what each MST-Distill stage costs next to training the student
alone, and the peak memory of each, on an AV-MNIST-shaped synthetic set.

    python tools/analysis_tools/benchmark_mst.py [--samples 3600] \
        [--batch 512] [--micro-batch 128 | s1=64,s2=64] [--modes s1,s2,...]
        [--folded-readout] [--fused-adam] [--s2-cache-ram-gb 0] [--out F]

``--folded-readout``, ``--fused-adam``, ``--s2-cache-ram-gb 0``,
``--frozen-teacher-chunk 64`` and ``--micro-batch s1=64,s2=64`` together are
configs/mst/lowmem/'s options.

Setup (the paper's AV-MNIST row, image student): LeNet5 student; teachers =
the multimodal net (LeNet5 trunk (+) five-layer 2-D CNN, 596 -> 298 -> 10;
MaskNets on the 596-d fused feature and fc1) and the audio CNN (32-64-128;
2-D MaskNets on conv2 64x56x56 and conv3 128x28x28); full projectors
(Linear(d, d*h): 106 M weights at d = 596). Inputs: image 1x28x28, audio
1x112x112, random (timings do not depend on the values).

Every mode runs in its own process (so its peak RSS is its own; setup gets
two samples, as in ``MultiStageLoop``) and times
``--epochs`` epochs after one warm-up iteration (cached modes: after the
epoch that fills the cache, reported separately); the training modes go
through the model's ``train_step`` (``--micro-batch`` applies there):
- ``student``: plain CE training of the student (the reference cost);
- ``s1_separate``: the three members each trained alone, one after
  another (the floor of S1);
- ``s1``: all three members jointly (Eq. 4);
- ``s2_nocache``: the four MaskNets (Eq. 10), teachers frozen, the
  teachers recomputed every step (the floor of ``s2``);
- ``s2``: the same with the hook-point cache (first epoch fills it);
- ``s2_masknets``: the MaskNets' forward + backward alone on cached
  features: the part of ``s2`` no cache removes;
- ``s2_masknets_math``: the same with the attention scores materialised
  (the non-fused path), for the memory of the fused kernel;
- ``s2_bf16``: ``s2`` under CPU bfloat16 autocast;
- ``s3``: Eq. 18 with cached teacher logits (first epoch fills the cache and
  is reported separately);
- ``s3_nocache``: Eq. 18 recomputing the frozen teachers every step (one
  batched no-grad forward per base teacher);
- ``student_compile``, ``s2_masknets_compile``: ``student`` and
  ``s2_masknets`` with the student / each MaskNet under ``torch.compile``
  (inductor); the compilation is in the first step (the first epoch of
  the cached mode), reported separately.

``--checkpoint-bytes`` measures instead what a whole run writes to its work
dir: ``tools/train.py configs/mst/mst_avdigits_image.py`` (the embedded
AV-Digits data, the paper's full projectors) for 1+1+1 epochs, with slim
checkpoints (the default) and with ``slim=False``; per file its size as
the log reports it (``saved NAME (N MiB)``), the bytes written in all, on
disk at the end, and their ratio to all the weights of the run (members +
MaskNets + gate) and, for the best checkpoints, to the student's.
"""
import argparse
import glob
import json
import os
import os.path as osp
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time

import torch


def build_model(projector: str, target: str = 'image',
                folded_readout: bool = False):
    from mstkd.models import MSTDistill
    from mstkd.utils import register_all_modules
    register_all_modules(init_default_scope=False)
    members = dict(
        mm=dict(type='LateFusionNet',
                encoders=dict(image=dict(type='LeNet5'),
                              audio=dict(type='CNN2d',
                                         channels=(32, 64, 128, 256, 512),
                                         pool_last=True)),
                hidden_channels=(298, ), num_classes=10),
        image=dict(type='LeNet5', modality='image'),
        audio=dict(type='CNN2d', modality='audio', channels=(32, 64, 128)))
    return MSTDistill(
        members=members, target=target,
        # the paper's AV-MNIST pools (configs/mst/mst_av_mnist_*.py)
        teachers=dict(mm=['fusion.concat', 'fusion.fc1'],
                      audio=['conv2', 'conv3']) if target == 'image' else
        dict(mm=['fusion.concat', 'fusion.fc1'], image=['conv3', 'fc1']),
        masknet=dict(num_heads=3, projector=projector,
                     folded_readout=folded_readout))


def batches(samples: int, batch: int):
    gen = torch.Generator().manual_seed(0)
    image = torch.rand(samples, 1, 28, 28, generator=gen)
    audio = torch.rand(samples, 1, 112, 112, generator=gen)
    labels = torch.randint(0, 10, (samples, ), generator=gen)
    out = []
    for start in range(0, samples, batch):
        sl = slice(start, start + batch)
        out.append((dict(image=image[sl], audio=audio[sl]),
                    dict(gt_label=labels[sl],
                         sample_idx=torch.arange(samples)[sl])))
    return out


#: ``--fused-adam``: torch's fused CPU/GPU Adam kernel (no full-size
#: temporaries in the step; equal to the default up to float rounding)
FUSED_ADAM = False


def _optim(params):
    from mmengine.optim import OptimWrapper
    return OptimWrapper(torch.optim.Adam(params, lr=1e-4,
                                         fused=FUSED_ADAM or None))


def _epoch(step, data) -> float:
    t0 = time.perf_counter()
    for inputs, samples in data:
        step(inputs, samples)
    return time.perf_counter() - t0


def _plain_step(module, optim, loss_fn):
    def step(inputs, samples):
        optim.update_params(loss_fn(module, inputs, samples))
    return step


def _ce(module, inputs, samples):
    return torch.nn.functional.cross_entropy(module(inputs),
                                             samples['gt_label'])


def _materialise_attention():
    """MaskNet attention through the weights-returning path of
    ``nn.MultiheadAttention`` (the ``B x heads x d x d`` scores
    materialised), to compare with the fused kernel of the default."""
    from mstkd.models.mst import masknet as module

    def mask(self, x):
        z = x.flatten(2).mean(-1) if x.dim() > 2 else x
        tokens = self._project(z)
        tokens, _ = self.attn(tokens, tokens, tokens, need_weights=True,
                              average_attn_weights=False)
        return torch.sigmoid(self.fc(tokens).squeeze(-1))

    module.MaskNet.mask = mask


def parse_micro_batch_arg(value: str):
    """``'64'`` -> 64; ``'s1=64,s2=64'`` -> ``dict(s1=64, s2=64)``."""
    if '=' not in value:
        return int(value)
    return {k: int(v) for k, v in (p.split('=') for p in value.split(','))}


def run_mode(mode: str, args) -> dict:
    """One mode's timings: ``epoch_s`` (mean over ``--epochs``) and, for
    cached modes, ``first_epoch_s`` (the epoch that fills the cache)."""
    global FUSED_ADAM
    FUSED_ADAM = args.fused_adam
    torch.manual_seed(0)
    model = build_model(args.projector, args.target, args.folded_readout)
    data = batches(args.samples, args.batch)
    # two samples, as MultiStageLoop gives setup (a whole batch of 512
    # through the fusion net's 32..512-channel audio CNN is a 1.5 GB
    # transient that no training run has)
    model.setup({k: v[:2] for k, v in data[0][0].items()},
                stages=list(model.stages))
    model.frozen_teacher_chunk = args.frozen_teacher_chunk or None
    if args.s2_cache_ram_gb is not None and model.s2_cache is not None:
        model.s2_cache = dict(model.s2_cache,
                              ram_budget_gb=args.s2_cache_ram_gb)
    # past the RAM budget the cache goes to files (S2CacheHook gives a
    # training run <work_dir>/s2_cache/rank<r>); removed when S2 ends
    model.s2_cache_dir = tempfile.mkdtemp(prefix='mstkd_s2_cache_')
    model.train()
    result = dict(mode=mode)
    cached = mode in ('s2', 's2_bf16', 's3', 's2_masknets',
                      's2_masknets_math', 's2_masknets_compile')
    compiled = mode.endswith('_compile')
    if mode in ('student', 'student_compile'):
        student = model.members[args.target]
        params = list(student.parameters())
        steps = [_plain_step(torch.compile(student) if compiled else student,
                             _optim(params), _ce)]
    elif mode == 's1_separate':
        # the floor of S1: each member trained alone, one after another
        params, steps = [], []
        for member in model.members.values():
            params += list(member.parameters())
            steps.append(_plain_step(member, _optim(list(
                member.parameters())), _ce))
    elif mode.startswith('s2_masknets'):
        # the MaskNets' forward + backward alone on their cached hooked
        # features (a scalar of their outputs as the loss): the part of an
        # S2 step that no cache removes
        from mstkd.models.task_modules.recorder import MemberRecorder
        if mode.endswith('_math'):
            _materialise_attention()
        model.set_stage('s2')
        params = list(model.masknets.parameters())
        optim = _optim(params)
        feats = {}
        nets = {s.key: torch.compile(model.masknets[s.key]) if compiled
                else model.masknets[s.key] for s in model.specialized}

        @torch.no_grad()
        def features(inputs):
            out = {}
            for s in model.specialized:
                rec = MemberRecorder(s.teacher, [s.path])
                with rec.record(model.members[s.teacher]) as records:
                    model.member_forward(s.teacher, inputs)
                out[s.key] = records[f'{s.teacher}:{s.path}']
            return out

        def step(inputs, samples):
            ids = tuple(samples['sample_idx'].tolist())
            if ids not in feats:
                feats[ids] = features(inputs)
            optim.update_params(sum(
                nets[s.key](feats[ids][s.key]).mean()
                for s in model.specialized))
        steps = [step]
    else:
        stage = mode[:2]
        model.set_stage(stage)
        model.cache_teacher_outputs = mode == 's3'
        if mode == 's2_nocache':
            model.s2_cache = None
        if args.micro_batch != '0':
            model.micro_batch = parse_micro_batch_arg(args.micro_batch)
        params = [p for m in model.stage_modules(stage)
                  for p in m.parameters()]
        optim = _optim(params)

        def step(inputs, samples):
            with torch.autocast('cpu', dtype=torch.bfloat16,
                                enabled=mode.endswith('_bf16')):
                model.train_step(dict(inputs=inputs, data_samples=samples),
                                 optim)
        steps = [step]
    result['trainable'] = sum(p.numel() for p in params)

    def epoch():
        return sum(_epoch(step, data) for step in steps)

    if cached:
        result['first_epoch_s'] = epoch()  # fills the cache
    else:
        start = time.perf_counter()
        for step in steps:  # warm-up (and, compiled, the compilation)
            step(*data[0])
        if compiled:
            result['first_epoch_s'] = time.perf_counter() - start
    # the peak of the timed epochs alone (without setup and the epoch that
    # fills a cache): on Linux '5' > clear_refs resets the high-water mark
    # (ru_maxrss with it, so the peak before is read first)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
    try:
        with open('/proc/self/clear_refs', 'w') as f:
            f.write('5')
        reset = True
    except OSError:
        reset = False
    times = [epoch() for _ in range(args.epochs)]
    result['epoch_s'] = sum(times) / len(times)
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
    result['peak_rss_gb'] = max(before, after)
    if reset:
        result['epoch_peak_rss_gb'] = after
    if mode == 's3':
        # an S3 epoch is tens of milliseconds per step: set it against a
        # plain student epoch timed in the same process, alternating
        # (median of 5 each; a copy of the student, so S3's is untouched)
        import copy
        student = copy.deepcopy(model.members[args.target])
        plain = _plain_step(student, _optim(list(student.parameters())),
                            _ce)
        plain(*data[0])  # warm-up
        pairs = [(_epoch(plain, data), epoch()) for _ in range(5)]
        result['same_process'] = dict(
            student_epoch_s=sorted(p[0] for p in pairs)[2],
            s3_epoch_s=sorted(p[1] for p in pairs)[2])
    store = getattr(model, 's2_cache_store', None)
    if store is not None:
        result['s2_cache_gb'] = dict(ram=store.ram_used / 2**30,
                                     disk=store.disk_used / 2**30)
    model.clear_s2_cache()
    shutil.rmtree(model.s2_cache_dir, ignore_errors=True)
    return result


#: each mode's floor: the cheapest computation it is measured against
FLOORS = dict(s1='s1_separate', s2='s2_nocache', s2_bf16='s2', s3='student',
              s3_nocache='student', s1_separate='student', student=None,
              s2_nocache=None, s2_masknets='s2',
              s2_masknets_math='s2_masknets', student_compile='student',
              s2_masknets_compile='s2_masknets')


def extrapolate(rows: dict, epochs: int = 100):
    """The three stages at ``epochs`` each (the paper's 100/100/100), in
    hours: cached (the first epoch fills the caches) and uncached."""
    def stage(mode, first=True):
        r = rows.get(mode)
        if r is None:
            return None
        head = r.get('first_epoch_s', r['epoch_s']) if first else \
            r['epoch_s']
        return head + (epochs - 1) * r['epoch_s']

    parts = dict(cached=(stage('s1'), stage('s2'), stage('s3')),
                 uncached=(stage('s1'), stage('s2_nocache'),
                           stage('s3_nocache')))
    return {k: sum(v) / 3600 for k, v in parts.items()
            if all(x is not None for x in v)}


REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
SAVED = re.compile(r' - saved (\S+) \((?:([0-9.]+) MiB|(.*))')


def checkpoint_bytes(slim: bool, epochs=(1, 1, 1)) -> dict:
    """What an AV-Digits MST run of ``epochs`` (S1, S2, S3) writes: the
    files as the log reports them, in MiB, the totals and the weights."""
    from mstkd.utils.checkpoint import load_full_state_dict
    with tempfile.TemporaryDirectory() as work:
        cmd = [sys.executable, osp.join(REPO, 'tools', 'train.py'),
               osp.join(REPO, 'configs', 'mst', 'mst_avdigits_image.py'),
               '--work-dir', work, '--cfg-options',
               *(f'train_cfg.s{i + 1}_epochs={n}'
                 for i, n in enumerate(epochs)),
               f'default_hooks.checkpoint.slim={slim}']
        proc = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO)
        if proc.returncode != 0:
            sys.exit(f'checkpoint run failed:\n{proc.stderr[-3000:]}')
        files = []
        for line in (proc.stdout + proc.stderr).splitlines():
            m = SAVED.search(line)
            if m:
                files.append(dict(file=m.group(1),
                                  mib=float(m.group(2) or 0),
                                  note=m.group(3) or ''))
        on_disk, seen = 0, set()
        for path in glob.glob(osp.join(work, '*.pth')):
            st = os.stat(path)
            if (st.st_dev, st.st_ino) not in seen:
                seen.add((st.st_dev, st.st_ino))
                on_disk += st.st_size
        state = load_full_state_dict(osp.join(work, 's3_end.pth'))
        best = sorted(glob.glob(osp.join(work, 'best_*.pth')))
        best_mib = max(osp.getsize(p) for p in best) / 2**20 if best else 0
    weights = sum(v.numel() * v.element_size() for v in state.values()
                  if v.is_floating_point()) / 2**20
    student = sum(v.numel() * v.element_size() for k, v in state.items()
                  if k.startswith('members.image.')) / 2**20
    written = sum(f['mib'] for f in files)
    return dict(slim=slim, epochs=list(epochs), files=files,
                written_mib=written, on_disk_mib=on_disk / 2**20,
                weights_mib=weights, student_mib=student,
                best_mib=best_mib)


def print_checkpoint_bytes(rows) -> None:
    print('\nCheckpoint bytes of an AV-Digits MST run (image student, full '
          'projectors), epochs S1+S2+S3 = '
          f'{"+".join(map(str, rows[0]["epochs"]))}:\n')
    print('| slim | files written (MiB) | written in all | on disk at the '
          'end | best checkpoint |')
    print('|---|---|---|---|---|')
    for r in rows:
        files = ', '.join(
            f'{f["file"]} {f["mib"]:.1f}' if f['mib'] or not f['note']
            else f'{f["file"]} (link)' for f in r['files'])
        w = r['weights_mib']
        print(f'| {r["slim"]} | {files} | {r["written_mib"]:.1f} MiB '
              f'(**{r["written_mib"] / w:.2f}x** the {w:.1f} MiB of '
              f'weights) | {r["on_disk_mib"]:.1f} MiB '
              f'({r["on_disk_mib"] / w:.2f}x) | {r["best_mib"]:.2f} MiB '
              f'({r["best_mib"] / r["student_mib"]:.2f}x the student\'s '
              f'{r["student_mib"]:.2f} MiB) |')


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--samples', type=int, default=3600)
    parser.add_argument('--batch', type=int, default=512)
    parser.add_argument('--epochs', type=int, default=2)
    parser.add_argument('--projector', default='full',
                        choices=['full', 'light'])
    parser.add_argument(
        '--modes', default='student,s1_separate,s1,s2_nocache,s2,'
        's2_masknets,s3,s3_nocache')
    parser.add_argument('--target', default='image',
                        choices=['image', 'audio'],
                        help='the student (AV-MNIST image or audio target)')
    parser.add_argument(
        '--micro-batch', default='0',
        help='micro_batch of the s1/s2/s3 modes: N (every stage), '
        's1=N,s2=N (those stages) or 0 (off)')
    parser.add_argument('--threads', type=int, default=0,
                        help='torch threads (0: torch default)')
    parser.add_argument(
        '--s2-cache-ram-gb', type=float,
        help="the S2 hook-point cache's RAM budget (model.s2_cache."
        'ram_budget_gb; default 4); past it rows go to files')
    parser.add_argument(
        '--fused-adam', action='store_true',
        help="Adam(fused=True): the optimizer step without full-size "
        'temporaries (0.8 GB at the 106 M-weight projector)')
    parser.add_argument(
        '--frozen-teacher-chunk', type=int, default=0,
        help="model.frozen_teacher_chunk: S3's frozen teachers in chunks "
        'of N samples (0: whole batches)')
    parser.add_argument(
        '--folded-readout', action='store_true',
        help='MaskNet(folded_readout=True): the readout folded into the '
        'attention (same function and gradients up to rounding)')
    parser.add_argument('--one', help=argparse.SUPPRESS)
    parser.add_argument('--out', help='also write the rows as JSON')
    parser.add_argument(
        '--checkpoint-bytes', action='store_true',
        help='measure the bytes a 1+1+1-epoch AV-Digits MST run writes '
        '(slim and not), instead of the stage costs')
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.checkpoint_bytes:
        rows = [checkpoint_bytes(slim) for slim in (True, False)]
        print_checkpoint_bytes(rows)
        if args.out:
            with open(args.out, 'w') as f:
                json.dump(dict(checkpoint_bytes=rows), f, indent=2)
        return
    if args.one:
        print(json.dumps(run_mode(args.one, args)))
        return

    rows = {}
    for mode in args.modes.split(','):
        cmd = [sys.executable, __file__, '--one', mode,
               '--samples', str(args.samples), '--batch', str(args.batch),
               '--epochs', str(args.epochs), '--projector', args.projector,
               '--threads', str(args.threads),
               '--micro-batch', args.micro_batch,
               '--target', args.target] + (
                   ['--fused-adam'] if args.fused_adam else []) + (
                   ['--folded-readout'] if args.folded_readout else []) + (
                   ['--frozen-teacher-chunk', str(args.frozen_teacher_chunk)]
                   if args.frozen_teacher_chunk else []) + (
                   [] if args.s2_cache_ram_gb is None else
                   ['--s2-cache-ram-gb', str(args.s2_cache_ram_gb)])
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            sys.exit(f'{mode} failed:\n{proc.stderr[-3000:]}')
        rows[mode] = json.loads(proc.stdout.strip().splitlines()[-1])
        print(f'measured {mode}: {rows[mode]}', file=sys.stderr, flush=True)

    print(f'\nMST-Distill stage costs, {args.samples} AV-MNIST-shaped '
          f'samples, {args.target} student, batch {args.batch}, '
          f'{args.projector} projector, '
          'micro-batch '
          f'{"off" if args.micro_batch == "0" else args.micro_batch}, '
          f'{"fused " if args.fused_adam else ""}Adam, '
          f'{"folded" if args.folded_readout else "plain"} MaskNet readout, '
          'frozen teachers in '
          + (f'chunks of {args.frozen_teacher_chunk}'
             if args.frozen_teacher_chunk else 'whole batches') + ', '
          'S2 cache RAM budget '
          + ('4 (default)' if args.s2_cache_ram_gb is None else
             str(args.s2_cache_ram_gb)) + ' GB, '
          f'{torch.get_num_threads()} threads, torch {torch.__version__}:\n')
    print('| mode | trainable params | s / epoch | floor | x floor '
          '| x student epoch | peak RSS (GB) |')
    print('|---|---|---|---|---|---|---|')
    base = rows.get('student', {}).get('epoch_s')
    for mode, r in rows.items():
        floor = FLOORS.get(mode)
        ref = rows.get(floor, {}).get('epoch_s') if floor else None
        extra = '' if 'first_epoch_s' not in r else (
            f' (first {"epoch" if mode.startswith("s2") else "step"} '
            f'{r["first_epoch_s"]:.2f}, compiles)' if mode.endswith(
                '_compile') else
            f' (first epoch {r["first_epoch_s"]:.2f}, fills the cache)')
        print(f'| {mode} | {r["trainable"]:,} | {r["epoch_s"]:.2f}{extra} '
              f'| {floor or "-"} | '
              + (f'{r["epoch_s"] / ref:.2f}' if ref else '-') + ' | '
              + (f'{r["epoch_s"] / base:.1f}' if base else '-') +
              f' | {r["peak_rss_gb"]:.2f} |')
    same = rows.get('s3', {}).get('same_process')
    if same:
        print(f'\nS3 against a plain student epoch in the same process '
              f'(median of 5, alternating): {same["s3_epoch_s"]:.3f} s / '
              f'{same["student_epoch_s"]:.3f} s = '
              f'{same["s3_epoch_s"] / same["student_epoch_s"]:.2f}x')
    if 's2' in rows and 's2_masknets' in rows:
        share = 1 - rows['s2_masknets']['epoch_s'] / rows['s2']['epoch_s']
        print(f'\nShare of a cached S2 epoch outside the MaskNets (teacher '
              f'suffix, student, KL, data): {share:.0%}')
    for kind, hours in extrapolate(rows).items():
        print(f'Whole run at 100/100/100 epochs, {kind}: {hours:.1f} h')
    if args.out:
        with open(args.out, 'w') as f:
            json.dump(dict(args=vars(args), rows=rows,
                           extrapolated_h=extrapolate(rows)), f, indent=2)


if __name__ == '__main__':
    main()
