"""Every shipped config loads and builds its model; every ablation config
changes exactly the switch it is named for."""
import glob
import os.path as osp

import pytest
import torch
from mmengine.config import Config

from mstkd.registry import MODELS
from mstkd.utils import register_all_modules
from tests.helpers import REPO

# The AV-Digits configs (the other benchmarks' configs are built with inputs
# of their own shapes in tests/test_tools/test_benchmark_configs.py and
# tests/test_tools/test_nyu_pipeline.py).
CONFIGS = sorted(
    osp.relpath(p, REPO)
    for p in glob.glob(osp.join(REPO, 'configs', '**', '*.py'),
                       recursive=True)
    if '_base_' not in p and 'avdigits' in osp.basename(p) and
    osp.join('configs', 'benchmarks') not in p)
# Benchmark specs (tables of configs, not runs): every cell's config exists.
SPECS = sorted(glob.glob(osp.join(REPO, 'configs', 'benchmarks', '*.py')))


@pytest.mark.parametrize('spec', SPECS, ids=osp.basename)
def test_benchmark_specs_load(spec):
    from mstkd.apis.benchmark import load_spec, plan
    loaded = load_spec(spec)
    teachers, runs, cells = plan(loaded, '/nonexistent', [0], 10)
    assert len(cells) == sum(len(r.cells) for r in loaded.rows)
    assert all(r.epochs > 0 for r in runs)


@pytest.mark.parametrize('config', CONFIGS)
def test_config_builds(config):
    register_all_modules(init_default_scope=False)
    cfg = Config.fromfile(osp.join(REPO, config))
    assert cfg.default_scope == 'mstkd'
    # the baselines' teachers are member runs, trained elsewhere
    # (test_baselines.py); here only the structure is built
    cfg.model.pop('pretrained', None)
    model = MODELS.build(cfg.model)
    inputs = dict(image=torch.rand(2, 1, 28, 28),
                  audio=torch.rand(2, 1, 112, 112))
    with torch.no_grad():
        assert model(inputs).shape == (2, 10)


ABLATIONS = {
    'no_s1': dict(collaborative='independent'),
    'dml_s1': dict(collaborative='dml'),
    'no_s2': dict(use_masknets=False),
    'mean_routing': dict(routing='mean'),
    'lb_cv': dict(lb_mode='cv'),
    'k2': dict(k=2),
    'reference': dict(reference_compat=True),
    'no_cache': dict(cache_teacher_outputs=False),
}


def _flatten(d, prefix=''):
    out = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(_flatten(v, f'{prefix}{k}.'))
        else:
            out[f'{prefix}{k}'] = v
    return out


@pytest.mark.parametrize('name', sorted(ABLATIONS) + [
    'pool_mm', 'pool_cm', 'light_projector'])
def test_ablation_changes_one_switch(name):
    base = _flatten(Config.fromfile(
        osp.join(REPO, 'configs/mst/mst_avdigits_image.py')).to_dict())
    abl = _flatten(Config.fromfile(osp.join(
        REPO, f'configs/mst/ablations/mst_avdigits_image_{name}.py'
    )).to_dict())
    diff = {k for k in set(base) | set(abl) if base.get(k) != abl.get(k)}
    diff.discard('filename')
    if name in ABLATIONS:
        expected = {f'model.{k}' for k in ABLATIONS[name]}
        if name == 'no_s2':
            expected.add('train_cfg.s2_epochs')
        assert diff == expected
        for k, v in ABLATIONS[name].items():
            assert abl[f'model.{k}'] == v
    elif name.startswith('pool'):
        assert diff and all(k.startswith('model.teachers') for k in diff)
    else:
        assert diff == {'model.masknet.projector'}


def test_model_index_lists_every_config():
    """model-index.yml (OpenMMLab metafile) names each MST and member
    config, and nothing that does not exist."""
    import yaml
    with open(osp.join(REPO, 'model-index.yml')) as f:
        index = yaml.safe_load(f)
    listed = {m['Config'] for m in index['Models']}
    assert all(osp.isfile(osp.join(REPO, c)) for c in listed)
    expected = {
        osp.relpath(p, REPO)
        for folder in ('mst', 'members', 'baselines/*')
        for p in glob.glob(osp.join(REPO, 'configs', folder, '*.py'))
    }
    assert listed == expected
