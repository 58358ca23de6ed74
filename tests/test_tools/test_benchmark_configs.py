"""The benchmark configs (AV-MNIST, RAVDESS, VGGSound-50k, CrisisMMD-V2):
every member and MST config builds its model with the reference protocol's
settings; one MST config per dataset trains through S1 -> S2 -> S3 on tiny
release-layout files and its best checkpoint is tested, as a user runs
them."""
import glob
import json
import os.path as osp

import pytest
import torch
from mmengine.config import Config

from mstkd.models.task_modules import infer_feature_shapes
from mstkd.registry import MODELS
from mstkd.utils import register_all_modules
from tests import release_data
from tests.helpers import LOADERS, REPO, direct_oa, run_tool

# dataset -> modalities with item shapes (RAVDESS video at 32x32), classes,
# batch size and learning rate of the reference protocol
DATASETS = {
    'av_mnist': (dict(image=(1, 28, 28), audio=(1, 112, 112)), 10, 512,
                 1e-4),
    'ravdess': (dict(video=(3, 15, 32, 32), audio=(15, 156)), 8, 32, 1e-4),
    'vggsound50k': (dict(visual=(512, 10, 7, 7), audio=(128, 10)), 141, 512,
                    1e-4),
    'crisismmd': (dict(image=(2048, ), text=(768, )), 8, 512, 5e-3),
}
# MST config -> teacher -> MaskNet layer -> feature shape (DATA_FORMATS)
MST = {
    'mst_av_mnist_image': dict(
        mm={'fusion.concat': (596, ), 'fusion.fc1': (298, )},
        audio={'conv2': (64, 56, 56), 'conv3': (128, 28, 28)}),
    'mst_av_mnist_audio': dict(
        mm={'fusion.concat': (596, ), 'fusion.fc1': (298, )},
        image={'conv3': (120, 1, 1), 'fc1': (84, )}),
    'mst_ravdess_video': dict(
        mm={'fusion.fc1': (320, ), 'fusion.fc2': (160, )},
        audio={'fc1': (320, ), 'fc2': (160, )}),
    'mst_ravdess_audio': dict(
        mm={'fusion.fc1': (320, ), 'fusion.fc2': (160, )},
        video={'fc1': (320, ), 'fc2': (160, )}),
    'mst_vggsound50k_visual': dict(
        mm={'fusion.fc1': (320, ), 'fusion.fc2': (160, )},
        audio={'fc1': (320, ), 'fc2': (160, )}),
    'mst_vggsound50k_audio': dict(
        mm={'fusion.fc1': (320, ), 'fusion.fc2': (160, )},
        visual={'fc1': (320, ), 'fc2': (160, )}),
    'mst_crisismmd_image': dict(
        mm={'fusion.fc1': (512, ), 'fusion.fc2': (256, )},
        text={'fc1': (1024, ), 'fc2': (512, )}),
    'mst_crisismmd_text': dict(
        mm={'fusion.fc1': (512, ), 'fusion.fc2': (256, )},
        image={'fc1': (1024, ), 'fc2': (512, )}),
}
MEMBER_CONFIGS = sorted(
    osp.relpath(p, REPO) for ds in DATASETS
    for p in glob.glob(osp.join(REPO, 'configs/members', f'{ds}_*.py')))


def _dataset_of(config):
    name = osp.splitext(osp.basename(config))[0]
    return next(ds for ds in DATASETS if name.startswith(f'{ds}_')
                or name.startswith(f'mst_{ds}_'))


def _inputs(dataset, batch=2):
    return {m: torch.rand(batch, *s)
            for m, s in DATASETS[dataset][0].items()}


def _check_protocol(cfg, dataset):
    _, _, batch, lr = DATASETS[dataset]
    assert cfg.default_scope == 'mstkd'
    assert cfg.train_dataloader.batch_size == batch
    assert cfg.train_dataloader.dataset.type == {
        'av_mnist': 'AVMNISTDataset', 'ravdess': 'RAVDESSDataset',
        'vggsound50k': 'VGGSound50kDataset',
        'crisismmd': 'CrisisMMDDataset'}[dataset]
    wrappers = cfg.optim_wrapper
    opts = [wrappers[s].optimizer for s in ('s1', 's2', 's3')] \
        if 's1' in wrappers else [wrappers.optimizer]
    assert all(o.type == 'Adam' and o.lr == lr for o in opts)
    # model selection: the best validation loss (CE)
    assert 'CE' in cfg.default_hooks.checkpoint.save_best


def test_member_configs_exist():
    names = {osp.basename(c) for c in MEMBER_CONFIGS}
    for ds, (mods, *_) in DATASETS.items():
        assert {f'{ds}_{m}.py' for m in (*mods, 'fusion')} == \
            {n for n in names if n.startswith(f'{ds}_')}


@pytest.mark.parametrize('config', MEMBER_CONFIGS)
def test_member_config_builds(config):
    register_all_modules(init_default_scope=False)
    dataset = _dataset_of(config)
    cfg = Config.fromfile(osp.join(REPO, config))
    _check_protocol(cfg, dataset)
    assert cfg.train_cfg.max_epochs == 100
    model = MODELS.build(cfg.model)
    inputs = _inputs(dataset)
    modality = osp.splitext(config)[0].split('_')[-1]
    if modality != 'fusion':
        # a unimodal run loads its own modality only
        for loader in LOADERS:
            assert cfg[loader].dataset.modalities == (modality, )
        assert model.member.modality == modality
    with torch.no_grad():
        assert model(inputs).shape == (2, DATASETS[dataset][1])


@pytest.mark.parametrize('name', sorted(MST))
def test_mst_config_builds(name):
    register_all_modules(init_default_scope=False)
    dataset = _dataset_of(name)
    cfg = Config.fromfile(osp.join(REPO, 'configs/mst', f'{name}.py'))
    _check_protocol(cfg, dataset)
    assert (cfg.train_cfg.s1_epochs, cfg.train_cfg.s2_epochs,
            cfg.train_cfg.s3_epochs) == (100, 100, 100)
    assert cfg.default_hooks.checkpoint.type == 'StageCheckpointHook'
    assert cfg.default_hooks.checkpoint.best_stages == ('s3', )
    model = MODELS.build(cfg.model)  # validates every layer path
    target = name.split('_')[-1]
    assert model.target == target and model.k == 1
    assert model.temperature == 4.0 and model.num_teachers == 4
    assert set(model.members) == {'mm', *DATASETS[dataset][0]}
    assert model.teacher_layers == {t: list(p) for t, p in MST[name].items()}
    inputs = _inputs(dataset)
    for teacher, layers in MST[name].items():
        shapes = infer_feature_shapes(model.members[teacher], list(layers),
                                      inputs)
        assert shapes == layers, (teacher, shapes)
    with torch.no_grad():
        assert model(inputs).shape == (2, DATASETS[dataset][1])


# --- end to end: tools/train.py (S1 -> S2 -> S3) then tools/test.py -------
# 20 samples (12 train, 4 val, 4 test; VGGSound 15), RAVDESS frames 16x16
E2E = {
    'av_mnist': ('mst_av_mnist_image',
                 lambda root: release_data.make_av_mnist(root, 12, 8)),
    'ravdess': ('mst_ravdess_video',
                lambda root: release_data.make_ravdess(root, n=20, size=16)),
    'vggsound50k': ('mst_vggsound50k_audio',
                    lambda root: release_data.make_vggsound(root, n=15)),
    'crisismmd': ('mst_crisismmd_text',
                  lambda root: release_data.make_crisismmd(root, n=20)),
    # the low-memory options in a real run: folded MaskNet readout, S1/S2
    # micro-batches (4 of the batch of 8), the S2 cache in files, fused Adam
    'av_mnist_lowmem': ('lowmem/mst_av_mnist_image_lowmem',
                        lambda root: release_data.make_av_mnist(root, 12, 8)),
}
#: options the end-to-end run of a config adds
E2E_OPTIONS = dict(av_mnist_lowmem=['model.micro_batch.s1=4',
                                    'model.micro_batch.s2=4'])


def _ok(result):
    assert result.returncode == 0, (result.stdout[-3000:] +
                                    result.stderr[-3000:])
    return result.stdout + result.stderr


@pytest.mark.parametrize('dataset', sorted(E2E))
def test_mst_train_then_test_on_release_files(dataset, tmp_path):
    name, make = E2E[dataset]
    config = f'configs/mst/{name}.py'
    data_root = make(str(tmp_path / 'data'))
    opts = []
    for loader in LOADERS:
        opts += [f'{loader}.dataset.data_root={data_root}',
                 f'{loader}.dataset.indices_file=None',
                 f'{loader}.batch_size=8', f'{loader}.num_workers=0',
                 f'{loader}.persistent_workers=False']
    work = str(tmp_path / 'work')
    log = _ok(run_tool([
        'tools/train.py', config, '--work-dir', work, '--cfg-options',
        'train_cfg.s1_epochs=1', 'train_cfg.s2_epochs=1',
        'train_cfg.s3_epochs=1',
        # the full projector (536 M weights at CrisisMMD's fc1) is for GPUs;
        # 6-wide MaskNet tokens keep S2 at a fraction of a second
        'model.masknet.projector=light', 'model.masknet.hidden_dim=6',
        # the best checkpoint by validation loss only (the one tested)
        'default_hooks.checkpoint.save_best=CE',
        'default_hooks.checkpoint.rule=less',
        *E2E_OPTIONS.get(dataset, []), *opts
    ]))
    if dataset.endswith('_lowmem'):
        assert 'S2 hook-point cache: 12 samples' in log
        assert 'RAM 0.0 MiB + files' in log
    for stage in ('s1', 's2', 's3'):
        assert osp.isfile(osp.join(work, f'{stage}_end.pth'))
    assert 'Routing (epoch 3)' in log
    best = glob.glob(osp.join(work, 'best_CE_*.pth'))
    assert len(best) == 1  # selected in S3 (epoch 3) only
    assert best[0].endswith('epoch_3.pth')

    out = str(tmp_path / 'metrics.json')
    log = _ok(run_tool(['tools/test.py', config, best[0], '--out', out,
                        '--work-dir', str(tmp_path / 'test'),
                        '--cfg-options', *opts]))
    metrics = json.load(open(out))
    assert {'OA', 'AA', 'F1', 'kappa'} <= set(metrics)
    # the reported OA is the target student's on a plain forward pass of
    # the best checkpoint over the test split
    assert metrics['OA'] == pytest.approx(
        direct_oa(config, best[0], opts,
                  student=name.replace('_lowmem', '').split('_')[-1]),
        abs=1e-12)
    assert 'OA' in log


@pytest.mark.parametrize('target', ['image', 'audio'])
def test_lowmem_configs_change_only_how_it_is_computed(target):
    """configs/mst/lowmem/: the MST config with the exact memory and speed
    options and nothing else; the MaskNets are built with the folded
    readout and their state dict is the plain config's."""
    register_all_modules(init_default_scope=False)
    plain = Config.fromfile(
        osp.join(REPO, 'configs/mst', f'mst_av_mnist_{target}.py'))
    low = Config.fromfile(osp.join(
        REPO, 'configs/mst/lowmem', f'mst_av_mnist_{target}_lowmem.py'))
    changed = dict(
        masknet=dict(plain.model.masknet, folded_readout=True),
        micro_batch=dict(s1=64, s2=64), frozen_teacher_chunk=64,
        s2_cache=dict(plain.model.s2_cache, ram_budget_gb=0.0))
    assert low.model.to_dict() == dict(plain.model.to_dict(), **changed)
    optim = plain.optim_wrapper.to_dict()
    optim['s2']['optimizer']['fused'] = True
    assert low.optim_wrapper.to_dict() == optim
    rest = set(plain) - {'model', 'optim_wrapper', 'filename'}
    assert {k: low[k] for k in rest} == {k: plain[k] for k in rest}
    assert set(low) - set(plain) == {'lowmem_model', 'lowmem_optim_wrapper'}
    models = [MODELS.build(c.model) for c in (plain, low)]
    inputs = _inputs('av_mnist')
    for model in models:
        model.setup(inputs, ['s1', 's2', 's3'])
    assert all(m.folded_readout for m in models[1].masknets.values())
    assert not any(m.folded_readout for m in models[0].masknets.values())
    assert models[1].micro_batch_size('s2') == 64
    assert models[1].micro_batch_size('s3') is None
    assert models[0].state_dict().keys() == models[1].state_dict().keys()
