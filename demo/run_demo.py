"""The main job on the embedded AV-Digits data (``make demo``).

Trains, for every seed, the three members without distillation (image, audio,
late fusion: the paper's "w/o KD" baselines) and MST-Distill for both target
modalities (image and audio students), tests each on the test split (best
checkpoint by validation loss, the paper's selection), and prints a table of
test OA/AA mean ± std over the seeds.

A fair budget: the w/o KD image and audio students train 30 epochs, as many
as an MST-Distill student (S1 15 + S3 15); the fusion member is the
teacher and keeps its 15. ``make benchmark`` compares every method, with
both model selections. Every run is a plain
``tools/train.py`` + ``tools/test.py`` call; logs and checkpoints go to
``demo/out/<job>/seed_<s>/``.

    python demo/run_demo.py [--seeds 0,1] [--jobs members,mst] [--out DIR]
"""
import argparse
import json
import os
import os.path as osp
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, REPO)

from mstkd.apis import format_table, run_seeds, summarize  # noqa: E402
from mstkd.apis.export import save_student  # noqa: E402
from mstkd.apis.seeds import find_best_checkpoint, parse_seeds  # noqa: E402

JOBS = {
    'members': [
        ('image  w/o KD', 'configs/members/avdigits_image.py'),
        ('audio  w/o KD', 'configs/members/avdigits_audio.py'),
        ('fusion (teacher) w/o KD', 'configs/members/avdigits_fusion.py'),
    ],
    'mst': [
        ('image  MST-Distill', 'configs/mst/mst_avdigits_image.py'),
        ('audio  MST-Distill', 'configs/mst/mst_avdigits_audio.py'),
    ],
}
# S1 trains every member and is the same for every target modality (the
# paper: "we do not specify a target student modality in advance"), so the
# audio-student run starts from the image-student run's S1 of the same seed.
# The student budget of MST-Distill (S1 + S3 epochs) for the plain students.
BUDGET = {
    'configs/members/avdigits_image.py': ['train_cfg.max_epochs=30'],
    'configs/members/avdigits_audio.py': ['train_cfg.max_epochs=30'],
}
REUSE_S1 = {
    'configs/mst/mst_avdigits_audio.py':
    ('configs/mst/mst_avdigits_image.py', ['train_cfg.s1_epochs=0']),
}


def s1_source(config, jobs):
    """The config whose S1 ``config`` reuses, if that job runs too."""
    source = REUSE_S1.get(config, (None, ))[0]
    return source if any(c == source for _, c in jobs) else None


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--seeds', default='0,1',
                        help="run seeds, e.g. '0,1' (default) or '0-4'")
    parser.add_argument('--jobs', default='members,mst',
                        help='comma-separated subset of: ' + ', '.join(JOBS))
    parser.add_argument('--out', default=osp.join(REPO, 'demo', 'out'))
    args = parser.parse_args()
    seeds = parse_seeds(args.seeds)
    jobs = [job for name in args.jobs.split(',') for job in JOBS[name]]

    print('mstkd demo on the embedded AV-Digits data (image 28x28 + audio '
          '112x112 log-mel, 10 digits; 3000/1000/1000 train/val/test).')
    print(f'Runs, for seeds {seeds}:')
    for label, config in jobs:
        source = s1_source(config, jobs)
        note = f' (S1 reused from {osp.basename(source)})' if source else ''
        note += ' '.join([''] + BUDGET.get(config, []))
        print(f'  - {label.strip():28s} {config}{note}')
    print('Each run: tools/train.py, then tools/test.py on the best '
          'checkpoint by validation loss. Logs: ' + args.out, flush=True)

    # One worker per seed (up to the number of cores), each running every
    # job of its seed in order with cores // workers threads: small
    # networks use two processes of one thread better than one of two.
    workers = max(1, min(len(seeds), os.cpu_count() or 1))
    threads = max(1, (os.cpu_count() or 1) // workers)
    print(f'{workers} seed(s) in parallel, {threads} thread(s) each.',
          flush=True)
    start = time.time()

    def run_seed(seed):
        out = {}
        for label, config in jobs:
            name = osp.splitext(osp.basename(config))[0]
            options = BUDGET.get(config)
            source = s1_source(config, jobs)
            if source:
                source = osp.splitext(osp.basename(source))[0]
                options = REUSE_S1[config][1] + [
                    f'load_from={osp.join(args.out, source)}/seed_{{seed}}/'
                    's1_end.pth'
                ]
            t0 = time.time()
            out[label] = run_seeds(osp.join(REPO, config), [seed],
                                   osp.join(args.out, name), options,
                                   threads=threads)[0]
            print(f'  seed {seed}: {label.strip():28s} test OA '
                  f'{out[label]["OA"]:.4f}  ({time.time() - t0:.0f} s)',
                  flush=True)
        return out

    with ThreadPoolExecutor(workers) as pool:
        per_seed = list(pool.map(run_seed, seeds))
    rows, runs = {}, {}
    for label, config in jobs:
        results = [r[label] for r in per_seed]
        rows[label] = summarize(results)
        runs[label] = dict(config=config, runs=results)

    table = format_table(rows)
    print(f'\nTest accuracy on AV-Digits, mean ± std over {len(seeds)} '
          f'seed(s) {seeds} ({time.time() - start:.0f} s in all):\n')
    print(table)
    with open(osp.join(args.out, 'results.md'), 'w') as f:
        f.write(table + '\n')
    with open(osp.join(args.out, 'results.json'), 'w') as f:
        json.dump(runs, f, indent=2)
    print(f'\nResults: {osp.join(args.out, "results.md")} and '
          f'results.json')

    # The product: the distilled students alone (seed of the first run),
    # ready for tools/test.py and demo/inference_demo.py.
    for label, config in jobs:
        if not config.startswith('configs/mst/'):
            continue
        name = osp.splitext(osp.basename(config))[0]
        ckpt = find_best_checkpoint(osp.join(args.out, name,
                                             f'seed_{seeds[0]}'))
        info = save_student(ckpt, osp.join(args.out, 'students',
                                           f'{name}_student.pth'))
        print(f'Student {info["target"]} (seed {seeds[0]}): {info["out"]} '
              f'({info["out_bytes"] / 2**10:.0f} KiB; the full checkpoint '
              f'{info["source_bytes"] / 2**10:.0f} KiB), config '
              f'{info["config"]}')
        # Figure 4 (routing per S3 epoch) and the training curves
        work = osp.join(args.out, name, f'seed_{seeds[0]}')
        for tool in ('plot_routing', 'plot_curves'):
            png = osp.join(args.out, 'figures', f'{name}_{tool[5:]}.png')
            subprocess.run([sys.executable, osp.join(
                REPO, 'tools', 'analysis_tools', f'{tool}.py'), work,
                '--out', png], check=True, stdout=subprocess.DEVNULL)
            print(f'Figure: {png}')
    print('Try: python demo/inference_demo.py '
          'demo/samples/avdigits_test1_digit5.png')


if __name__ == '__main__':
    main()
