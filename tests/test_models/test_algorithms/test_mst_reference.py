"""MST-Distill on the distillation framework gives the weights of the
pre-framework implementation (commit c771a72, recorded in
tests/data/mst_reference/, see its README) for a fixed seed: tiny AV-Digits
and NYU-Depth-V2 runs through the Runner, a few iterations of each stage,
every switch and ablation.

The fixture was recorded on an AVX2 machine. An AVX-512 CPU picks other
kernels (other float summation orders: measured 2.3e-6 on the student after
these few steps, for the same code), so the runs happen in one subprocess
with torch's and oneDNN's kernels capped at AVX2 (``PINNED_NUMERICS``, read
when torch initialises) and one thread; the c771a72 code under these
settings on an AVX-512 machine reproduced the fixture bitwise (2026-12-03).
Another AVX-512 machine (2026-12-04) does not, for the code of that day and
of today alike: the largest difference to the fixture is 9.2e-6 on an
AV-Digits student (k=2; 1.9e-6 for the default) and 5.8e-4 on the NYU
student, where a switch changes the weights far more (fixture variants
against the default: 4e-3 .. 1.5e-2 on AV-Digits; on NYU, k=2: 2.1e-2,
routing='mean': 1.7). ``TOLERANCE`` sits between the two: about 5x the
measured drift, at least 10x below the smallest switch.
"""
import json
import os
import os.path as osp
import subprocess
import sys

import pytest
import torch

from tests.helpers import REPO
from tests.nyu_data import make_nyu_root

FIXTURES = osp.join(REPO, 'tests', 'data', 'mst_reference')
LOADERS = ('train_dataloader', 'val_dataloader', 'test_dataloader')
#: Environment under which x86 CPUs with AVX2 or AVX-512 run the kernels of
#: the recording machine.
PINNED_NUMERICS = dict(ATEN_CPU_CAPABILITY='avx2', ONEDNN_MAX_CPU_ISA='AVX2',
                       OMP_NUM_THREADS='1')
#: (weights, fingerprints) absolute tolerance per dataset (see above)
TOLERANCE = dict(avdigits=(5e-5, 5e-4), nyu=(2e-3, 2e-2))
AV = dict(cfg='configs/mst/mst_avdigits_image.py', epochs=(1, 1, 2))
NYU = dict(cfg='configs/mst/mst_nyu_rgb.py', epochs=(1, 1, 1))
# the runs of the recorder (same names, configs and overrides)
VARIANTS = {
    'avdigits_image': AV,
    'avdigits_image_full_projector': dict(
        AV, model=dict(masknet=dict(projector='full')), epochs=(1, 1, 1)),
    'avdigits_audio': dict(AV, cfg='configs/mst/mst_avdigits_audio.py'),
    'avdigits_image_mean_routing': dict(AV, model=dict(routing='mean')),
    'avdigits_image_dml_s1': dict(AV, model=dict(collaborative='dml')),
    'avdigits_image_no_s1': dict(AV, model=dict(collaborative='independent')),
    'avdigits_image_no_s2': dict(AV, model=dict(use_masknets=False),
                                 epochs=(1, 0, 2)),
    'avdigits_image_lb_cv': dict(AV, model=dict(lb_mode='cv')),
    'avdigits_image_k2': dict(AV, model=dict(k=2)),
    'avdigits_image_no_cache': dict(
        AV, model=dict(cache_teacher_outputs=False)),
    'nyu_rgb': NYU,
}
# Retired: 'avdigits_image_reference' and 'nyu_rgb_divide_all'
# (reference_compat=True / dense_kd_divide_all), recorded at c771a72 and
# passing at 86edb0e; issue 10 then changed the release-compat arithmetic
# on purpose (lambda schedule, learned spatial reduction, joint MaskNet
# selection, void pixels in the dense KL), checked against the release's
# formulas in tests/test_models/test_reference_compat.py.


def train(variant: dict, data: dict, work_dir: str):
    """Train one variant through the Runner; return the runner."""
    from mmengine.config import Config
    from mmengine.runner import Runner

    from mstkd.utils import register_all_modules
    register_all_modules(init_default_scope=False)
    cfg = Config.fromfile(osp.join(REPO, variant['cfg']))
    nyu = 'nyu' in variant['cfg']
    for loader in LOADERS:
        if nyu:
            cfg[loader].dataset.data_root = data['nyu']
            cfg[loader].num_workers = 0
            cfg[loader].batch_size = 2
        else:
            cfg[loader].dataset.data_file = data['avdigits']
            cfg[loader].dataset.n_mels = 64
            cfg[loader].dataset.n_frames = 64
            cfg[loader].batch_size = 32
    if nyu:
        for member in ('mm', 'rgb', 'depth'):
            cfg.model.members[member].channels = (4, 8, 8, 16, 16)
    else:
        cfg.model.masknet.projector = 'light'
    cfg.merge_from_dict(dict(model=variant.get('model', {})))
    s1, s2, s3 = variant['epochs']
    cfg.train_cfg.update(s1_epochs=s1, s2_epochs=s2, s3_epochs=s3)
    cfg.work_dir = work_dir
    cfg.default_hooks.logger.interval = 100
    runner = Runner.from_cfg(cfg)
    runner.train()
    return runner


def fingerprint(module):
    return {k: torch.stack([v.double().sum(), v.double().pow(2).sum()])
            for k, v in module.state_dict().items() if v.is_floating_point()}


def run_variants(data: dict, out_dir: str) -> None:
    """Train every variant (one thread) and save what the test compares:
    ``<out_dir>/<variant>.pth`` and ``<out_dir>/capability.json``."""
    torch.set_num_threads(1)  # as recorded: bitwise-stable reductions
    with open(osp.join(out_dir, 'capability.json'), 'w') as f:
        json.dump(torch.backends.cpu.get_cpu_capability(), f)
    for name, variant in VARIANTS.items():
        model = train(variant, data, osp.join(out_dir, name)).model
        torch.save(dict(
            student=model.student_state_dict(),
            gate=None if model.gate is None else model.gate.state_dict(),
            masknets={s.name: fingerprint(model.masknets[s.key])
                      for s in model.specialized if s.key in model.masknets},
            members={n: fingerprint(m) for n, m in model.members.items()}),
            osp.join(out_dir, f'{name}.pth'))


@pytest.fixture(scope='module')
def results(tiny_avdigits, tmp_path_factory):
    """Every variant trained in one subprocess under
    :data:`PINNED_NUMERICS`; the directory of its results."""
    nyu = make_nyu_root(str(tmp_path_factory.mktemp('nyu')), n=10, h=32,
                        w=32)
    out = str(tmp_path_factory.mktemp('mst_reference_runs'))
    data = dict(avdigits=tiny_avdigits, nyu=nyu)
    code = ('import sys; sys.path.insert(0, sys.argv[1]); '
            'from tests.test_models.test_algorithms.test_mst_reference '
            'import run_variants; import json; '
            'run_variants(json.loads(sys.argv[2]), sys.argv[3])')
    env = dict(os.environ, **PINNED_NUMERICS)
    env['PYTHONPATH'] = REPO + os.pathsep + env.get('PYTHONPATH', '')
    proc = subprocess.run(
        [sys.executable, '-c', code, REPO, json.dumps(data), out],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=1500)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    with open(osp.join(out, 'capability.json')) as f:
        capability = json.load(f)
    if capability != 'AVX2':
        pytest.skip(f'the fixture holds AVX2 numerics; this CPU runs torch '
                    f'kernels at "{capability}" even with '
                    'ATEN_CPU_CAPABILITY=avx2')
    return out


@pytest.mark.parametrize('name', sorted(VARIANTS))
def test_same_weights_as_before_the_framework(name, results):
    ref = torch.load(osp.join(FIXTURES, f'{name}.pth'), map_location='cpu',
                     weights_only=True)
    variant = VARIANTS[name]
    assert (variant['cfg'], tuple(variant['epochs'])) == \
        (ref['config'], tuple(ref['epochs']))
    got = torch.load(osp.join(results, f'{name}.pth'), map_location='cpu',
                     weights_only=True)
    weights, prints = TOLERANCE['nyu' if 'nyu' in variant['cfg'] else
                                'avdigits']

    assert set(got['student']) == set(ref['student'])
    for key, value in ref['student'].items():
        torch.testing.assert_close(got['student'][key], value, rtol=0,
                                   atol=weights, msg=f'student {key}')
    if ref['gate'] is None:
        assert got['gate'] is None
    else:
        for key, value in ref['gate'].items():
            torch.testing.assert_close(got['gate'][key], value, rtol=0,
                                       atol=weights, msg=f'gate {key}')
    for part in ('masknets', 'members'):
        assert set(got[part]) == set(ref[part])
        for sub in ref[part]:
            for key, value in ref[part][sub].items():
                torch.testing.assert_close(got[part][sub][key], value,
                                           rtol=1e-5, atol=prints,
                                           msg=f'{part} {sub} {key}')
