"""Measure what each MST-Distill stage costs next to training the student
alone, and the peak memory of each, on an AV-MNIST-shaped synthetic set.

    python tools/analysis_tools/benchmark_mst.py [--samples 3600] [--batch 512]

Setup (the paper's AV-MNIST row, image student): LeNet5 student; teachers =
the multimodal net (LeNet5 trunk (+) five-layer 2-D CNN, 596 -> 298 -> 10;
MaskNets on the 596-d fused feature and fc1) and the audio CNN (32-64-128;
2-D MaskNets on conv2 64x56x56 and conv3 128x28x28); full projectors
(Linear(d, d*h): 106 M weights at d = 596). Inputs: image 1x28x28, audio
1x112x112, random (timings do not depend on the values).

Every mode runs in its own process (so its peak RSS is its own) and times
``--epochs`` epochs after one warm-up iteration:
- ``student``: plain CE training of the student (the reference cost);
- ``s1``: all three members jointly (Eq. 4);
- ``s2``: the four MaskNets (Eq. 10), teachers frozen;
- ``s3``: Eq. 18 with cached teacher logits (first epoch fills the cache and
  is reported separately);
- ``s3_nocache``: Eq. 18 recomputing the frozen teachers every step (one
  batched no-grad forward per base teacher).
"""
import argparse
import json
import resource
import subprocess
import sys
import time

import torch


def build_model(projector: str):
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
        members=members, target='image',
        teachers=dict(mm=['fusion.concat', 'fusion.fc1'],
                      audio=['conv2', 'conv3']),
        masknet=dict(num_heads=3, projector=projector))


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


def run_mode(mode: str, args) -> dict:
    torch.manual_seed(0)
    model = build_model(args.projector)
    data = batches(args.samples, args.batch)
    model.setup(data[0][0], stages=list(model.stages))
    if mode == 'student':
        params = list(model.members['image'].parameters())

        def step(inputs, samples):
            logits = model.members['image'](inputs)
            return torch.nn.functional.cross_entropy(logits,
                                                     samples['gt_label'])
    else:
        stage = mode[:2]
        model.set_stage(stage)
        model.cache_teacher_outputs = mode == 's3'
        params = [p for m in model.stage_modules(stage)
                  for p in m.parameters()]

        def step(inputs, samples):
            return sum(model(inputs, samples, mode='loss').values())

    model.train()
    opt = torch.optim.Adam(params, lr=1e-4)

    def epoch():
        t0 = time.perf_counter()
        for inputs, samples in data:
            loss = step(inputs, samples)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        return time.perf_counter() - t0

    result = dict(mode=mode, trainable=sum(p.numel() for p in params))
    if mode == 's3':
        result['first_epoch_s'] = epoch()  # fills the teacher cache
    else:
        step(*data[0]).backward()  # warm-up
        opt.zero_grad(set_to_none=True)
    times = [epoch() for _ in range(args.epochs)]
    result['epoch_s'] = sum(times) / len(times)
    result['peak_rss_gb'] = resource.getrusage(
        resource.RUSAGE_SELF).ru_maxrss / 1024**2
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--samples', type=int, default=3600)
    parser.add_argument('--batch', type=int, default=512)
    parser.add_argument('--epochs', type=int, default=2)
    parser.add_argument('--projector', default='full',
                        choices=['full', 'light'])
    parser.add_argument('--modes', default='student,s1,s2,s3,s3_nocache')
    parser.add_argument('--threads', type=int, default=0,
                        help='torch threads (0: torch default)')
    parser.add_argument('--one', help=argparse.SUPPRESS)
    parser.add_argument('--out', help='also write the rows as JSON')
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.one:
        print(json.dumps(run_mode(args.one, args)))
        return

    rows = []
    for mode in args.modes.split(','):
        cmd = [sys.executable, __file__, '--one', mode,
               '--samples', str(args.samples), '--batch', str(args.batch),
               '--epochs', str(args.epochs), '--projector', args.projector,
               '--threads', str(args.threads)]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            sys.exit(f'{mode} failed:\n{proc.stderr[-3000:]}')
        rows.append(json.loads(proc.stdout.strip().splitlines()[-1]))
        print(f'measured {mode}', file=sys.stderr, flush=True)

    base = rows[0]['epoch_s'] if rows[0]['mode'] == 'student' else None
    print(f'\nMST-Distill stage costs, {args.samples} AV-MNIST-shaped '
          f'samples, batch {args.batch}, {args.projector} projector, '
          f'{torch.get_num_threads()} threads, torch {torch.__version__}:\n')
    print('| mode | trainable params | s / epoch | x student epoch '
          '| peak RSS (GB) |')
    print('|---|---|---|---|---|')
    for r in rows:
        ratio = f'{r["epoch_s"] / base:.2f}' if base else '-'
        extra = (f' (first epoch {r["first_epoch_s"]:.2f} s, fills the '
                 'cache)' if 'first_epoch_s' in r else '')
        print(f'| {r["mode"]} | {r["trainable"]:,} | {r["epoch_s"]:.2f}'
              f'{extra} | {ratio} | {r["peak_rss_gb"]:.2f} |')
    if args.out:
        with open(args.out, 'w') as f:
            json.dump(rows, f, indent=2)


if __name__ == '__main__':
    main()
