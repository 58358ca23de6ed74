"""The distillation baselines on the four classification benchmarks of the
paper's Table 1 (configs/baselines/<method>/<method>_<dataset>_<target>_
<tconfig>.py; AV-MNIST, RAVDESS, VGGSound-50k, CrisisMMD-V2): the set is the
AV-Digits one for every dataset; every config keeps its dataset's member
protocol (batch, optimizer, epochs, selection by validation loss) and loads
teachers of the members' architectures; every model builds, records its
declared layers at the expected widths, and every stage's losses on a random
batch of the dataset's shapes are finite and give the student gradients.
One config (KD, CM teacher, AV-MNIST) trains after its teacher on tiny
release-layout files and its best checkpoint is tested, as a user runs it.
"""
import functools
import glob
import json
import os.path as osp

import pytest
import torch
from mmengine.config import Config

from mstkd.models.task_modules.recorder import parse_record_key
from mstkd.registry import MODELS
from mstkd.utils import register_all_modules
from tests import release_data
from tests.helpers import LOADERS, REPO, direct_oa, run_tool
from tests.test_tools.test_benchmark_configs import DATASETS

BASELINES = osp.join(REPO, 'configs', 'baselines')
# an AV-Digits target -> the position of the dataset's modality (Table 1
# order: AV-MNIST image/audio, RAVDESS video/audio, VGGSound-50k
# visual/audio, CrisisMMD-V2 image/text)
TARGET_INDEX = dict(image=0, audio=1)
# the feature (record) widths a baseline may read, per dataset and member
# (batch dimension dropped): the penultimate embeddings, OFA's branches,
# MGDFR's ranked features and C2KD's proxy inputs
FEATURES = {
    'av_mnist': dict(
        image={'conv1': (6, 28, 28), 'conv2': (16, 10, 10), 'fc1': (84, )},
        audio={'conv1': (32, 112, 112), 'conv2': (64, 56, 56),
               'conv3': (128, 28, 28), 'fc@input': (25088, )},
        mm={'fusion.fc1': (298, )}),
    'ravdess': dict(
        video={'fc1@input': (18816, ), 'fc1': (320, ), 'fc2': (160, )},
        audio={'fc1@input': (1280, ), 'fc1': (320, ), 'fc2': (160, )},
        mm={'fusion.fc2': (160, )}),
    'vggsound50k': dict(
        visual={'fc1@input': (128, ), 'fc1': (320, ), 'fc2': (160, )},
        audio={'fc1@input': (256, ), 'fc1': (320, ), 'fc2': (160, )},
        mm={'fusion.fc2': (160, )}),
    'crisismmd': dict(
        image={'fc1': (1024, ), 'fc2': (512, )},
        text={'fc1': (1024, ), 'fc2': (512, )},
        mm={'fusion.fc2': (256, )}),
}


def _avdigits_set():
    """(method, AV-Digits target, tconfig) of every AV-Digits baseline
    config (the `_release` variants are switches, not Table 1 cells)."""
    out = []
    for path in sorted(glob.glob(osp.join(BASELINES, '*',
                                          '*_avdigits_*.py'))):
        name = osp.splitext(osp.basename(path))[0]
        if name.endswith('_release'):
            continue
        method, rest = name.split('_avdigits_')
        target, tconfig = rest.split('_')
        assert osp.basename(osp.dirname(path)) == method
        out.append((method, target, tconfig))
    return out


def _expected():
    """config path (relative to the repo) -> (dataset, method, target,
    tconfig) for every dataset and AV-Digits baseline."""
    out = {}
    for ds, (mods, *_) in DATASETS.items():
        for method, target, tconfig in _avdigits_set():
            target = list(mods)[TARGET_INDEX[target]]
            out[f'configs/baselines/{method}/'
                f'{method}_{ds}_{target}_{tconfig}.py'] = (
                    ds, method, target, tconfig)
    return out


EXPECTED = _expected()
CONFIGS = sorted(EXPECTED)


def test_every_avdigits_baseline_has_a_config_per_dataset_and_target():
    assert len(_avdigits_set()) == 30  # 9 methods, Table 1's cells
    missing = [c for c in CONFIGS if not osp.isfile(osp.join(REPO, c))]
    assert not missing, f'missing baseline configs: {missing}'
    # and nothing else is named after these datasets (a typo'd target)
    present = {
        osp.relpath(p, REPO)
        for ds in DATASETS
        for p in glob.glob(osp.join(BASELINES, '*', f'*_{ds}_*.py'))}
    assert present == set(CONFIGS), sorted(present - set(CONFIGS))


@functools.lru_cache(maxsize=None)
def _load(config):
    """A config, loaded once (callers read it or copy it)."""
    return Config.fromfile(osp.join(REPO, config))


def _member_config(ds, member):
    name = 'fusion' if member == 'mm' else member
    return f'configs/members/{ds}_{name}.py'


def _members_of(ds, target, tconfig):
    mods = list(DATASETS[ds][0])
    other = next(m for m in mods if m != target)
    return {'mm': {'mm', target}, 'cm': {other, target},
            'mmcm': {'mm', *mods}}[tconfig]


def _stages(train_cfg):
    """stage -> epochs of a config's training loop (one for a plain
    loop)."""
    if train_cfg.type == 'MultiStageTrainLoop':
        return dict(train_cfg.stages)
    assert train_cfg.type == 'EpochBasedTrainLoop'
    return dict(train=train_cfg.max_epochs)


@pytest.mark.parametrize('config', CONFIGS)
def test_config_keeps_the_members_protocol(config):
    """Batch, data, optimizer and lr, epochs per (sub-)stage, model
    selection by validation loss: those of the dataset's member run of the
    student's modality (the paper's "identical training conditions"); the
    teachers are the member runs, of the same architectures."""
    ds, method, target, tconfig = EXPECTED[config]
    cfg = Config.fromfile(osp.join(REPO, config))
    member = _load(_member_config(ds, target))
    _, _, batch, lr = DATASETS[ds]
    assert cfg.default_scope == 'mstkd'
    for loader in LOADERS:
        ours, theirs = cfg[loader].to_dict(), member[loader].to_dict()
        # the baselines read every modality; the member its own
        assert ours['dataset'].pop('modalities') is None
        assert theirs['dataset'].pop('modalities') == (target, )
        assert ours == theirs, loader
    assert cfg.train_dataloader.batch_size == batch
    # the optimizer of every stage
    wrappers = cfg.optim_wrapper
    if wrappers.get('constructor') == 'StageOptimWrapperConstructor':
        stage_wrappers = {k: v for k, v in wrappers.items()
                          if k != 'constructor'}
        assert set(stage_wrappers) == set(_stages(cfg.train_cfg))
    else:
        stage_wrappers = dict(train=wrappers)
    for stage, wrapper in stage_wrappers.items():
        assert wrapper.to_dict() == member.optim_wrapper.to_dict(), stage
        assert wrapper.optimizer.type == 'Adam'
        assert wrapper.optimizer.lr == lr
    # every (sub-)stage as long as the member's training (100 epochs)
    stages = _stages(cfg.train_cfg)
    assert set(stages.values()) == {member.train_cfg.max_epochs} == {100}
    assert len(stages) == (2 if method in ('fitnets', 'mgdfr') else 1)
    assert cfg.train_cfg.val_interval == 1
    # selection: the best validation loss, in the last stage
    ckpt = cfg.default_hooks.checkpoint
    assert dict(zip(ckpt.save_best, ckpt.rule))['CE'] == 'less'
    if len(stages) > 1:
        assert tuple(ckpt.best_stages) == (list(stages)[-1], )
    # the model: student, members, teachers
    model = cfg.model
    assert model.target == target
    assert set(model.members) == _members_of(ds, target, tconfig)
    pretrained = model.get('pretrained') or {}
    if method in ('dml', ):
        assert not pretrained  # peers trained from scratch
    else:
        assert set(pretrained) == set(model.members) - {target}
    for name, entry in pretrained.items():
        assert entry.config == _member_config(ds, name)
        assert entry.checkpoint == 'work_dirs/' + osp.splitext(
            osp.basename(entry.config))[0]
        run = _load(entry.config)
        assert model.members[name].to_dict() == run.model.member.to_dict()
    assert model.members[target].to_dict() == member.model.member.to_dict()


def _record_keys(model_cfg):
    """Every member layer record the config reads."""
    keys = set()
    for connector in (model_cfg.get('connectors') or {}).values():
        keys.update(connector[f] for f in ('source', 'target')
                    if f in connector)
    for args in model_cfg.loss_forward_mappings.values():
        for value in args.values():
            value = value['source'] if isinstance(value, dict) else value
            keys.update(value if isinstance(value, (list, tuple))
                        else [value])
    if 'feature' in model_cfg:
        keys.add(model_cfg.feature)
    return {k for k in keys
            if parse_record_key(k) is not None and parse_record_key(k)[1]}


def _batch(ds, size=4):
    mods, classes, *_ = DATASETS[ds]
    inputs = {m: torch.rand(size, *shape) for m, shape in mods.items()}
    labels = torch.arange(size) % classes
    return inputs, dict(gt_label=labels, sample_idx=torch.arange(size) + 7)


@pytest.mark.parametrize('config', CONFIGS)
def test_config_builds_and_every_stage_trains_the_student(config):
    register_all_modules(init_default_scope=False)
    ds, method, target, tconfig = EXPECTED[config]
    cfg = Config.fromfile(osp.join(REPO, config))
    # the teachers are member runs trained elsewhere (the E2E test below)
    cfg.model.pop('pretrained', None)
    model = MODELS.build(cfg.model)
    assert model.target == target
    inputs, samples = _batch(ds)
    # the declared layers exist and have the widths of FEATURES
    keys = sorted(_record_keys(cfg.model))
    if method in ('fitnets', 'ofa', 'rkd', 'crd', 'mgdfr', 'c2kd'):
        assert keys, 'a feature-based method reads no layer'
    shapes = model.record_shapes(keys, inputs)
    for key in keys:
        member, path = parse_record_key(key)
        assert tuple(shapes[key]) == FEATURES[ds][member][path], key
    model.setup(inputs, model.stage_names)
    model.train()
    for stage in model.stage_names:
        model.set_stage(stage)
        if method == 'mgdfr' and stage == 'kd':
            # the ranking (one draw here) that the kd stage's
            # general_logits need
            model.num_permutations = 1
            model.compute_saliency([dict(inputs=inputs,
                                         data_samples=samples)])
            assert int(model.general_mask.sum()) == \
                -(-len(model.general_mask) // 4)  # the top 25%
        losses = model(inputs, samples, mode='loss')
        assert set(losses) == set(model._stage_losses[stage])
        for name, value in losses.items():
            assert torch.isfinite(value).all(), (stage, name, value)
        model.zero_grad()
        sum(losses.values()).backward()
        grads = [p.grad for p in model.student.parameters()
                 if p.requires_grad]
        assert grads and any(g is not None and g.abs().sum() > 0
                             for g in grads), stage
    with torch.no_grad():  # the deployed student alone
        logits = model.members[target](inputs)
    assert logits.shape == (len(samples['gt_label']), DATASETS[ds][1])


def test_table1_spec_has_every_config_in_its_cell():
    """configs/benchmarks/table1_classification.py: Table 1's rows (w/o KD,
    the nine baselines' T-configs, MST-Distill) x 8 columns (4 datasets x 2
    targets), every cell the config of its row and column."""
    from mstkd.apis.benchmark import load_spec
    spec = load_spec(osp.join(REPO, 'configs', 'benchmarks',
                              'table1_classification.py'))
    columns = [f'{ds}_{m}' for ds, (mods, *_) in DATASETS.items()
               for m in mods]
    assert list(spec.columns) == columns
    assert [r.method for r in spec.rows] == [
        'w/o KD', 'KD', 'KD', 'MLLD', 'MLLD', 'FitNets', 'FitNets', 'OFA',
        'OFA', 'RKD', 'RKD', 'CRD', 'CRD', 'DML', 'MGDFR', 'C2KD',
        'MST-Distill']
    baselines = {}
    for config, (ds, method, target, tconfig) in EXPECTED.items():
        baselines[(method, tconfig, f'{ds}_{target}')] = config
    for row in spec.rows:
        assert list(row.cells) == columns, row.method
        for column, cell in row.cells.items():
            ds, target = column.rsplit('_', 1)
            if row.method == 'w/o KD':
                want = f'configs/members/{ds}_{target}.py'
            elif row.method == 'MST-Distill':
                want = f'configs/mst/mst_{ds}_{target}.py'
            else:
                tconfig = row.tconfig.replace('+', '').lower()
                want = baselines.pop((row.method.lower(), tconfig, column))
            assert cell == want, (row.method, row.tconfig, column)
    assert not baselines  # every baseline config is a cell
    assert spec.epochs is None  # the configs' own (the paper's) schedules


# --- end to end: the teacher's member run, the baseline, tools/test.py ----
def _ok(result):
    assert result.returncode == 0, (result.stdout[-3000:] +
                                    result.stderr[-3000:])
    return result.stdout + result.stderr


def test_kd_cm_trains_from_its_teacher_run_then_tests(tmp_path):
    """KD on AV-MNIST, image student, CM teacher (the audio member): the
    teacher trained 1 epoch by its member config, then the baseline 1 epoch
    loading the teacher's best checkpoint, then tools/test.py on the
    baseline's best checkpoint (OA = a direct forward of the student)."""
    data_root = release_data.make_av_mnist(str(tmp_path / 'data'), 12, 8)
    opts = release_data.release_options(data_root, batch_size=8) + [
        'train_cfg.max_epochs=1', 'default_hooks.checkpoint.save_best=CE',
        'default_hooks.checkpoint.rule=less']
    teacher = str(tmp_path / 'teacher')
    _ok(run_tool(['tools/train.py', 'configs/members/av_mnist_audio.py',
                  '--work-dir', teacher, '--cfg-options', *opts]))
    teacher_best = glob.glob(osp.join(teacher, 'best_CE_epoch_*.pth'))
    assert len(teacher_best) == 1

    config = 'configs/baselines/kd/kd_av_mnist_image_cm.py'
    opts.append(f'model.pretrained.audio.checkpoint={teacher}')
    work = str(tmp_path / 'work')
    log = _ok(run_tool(['tools/train.py', config, '--work-dir', work,
                        '--cfg-options', *opts]))
    assert (f'Member "audio" loaded from {teacher_best[0]} (prefix '
            '"member.")') in log
    best = glob.glob(osp.join(work, 'best_CE_epoch_*.pth'))
    assert len(best) == 1 and best[0].endswith('epoch_1.pth')

    out = str(tmp_path / 'metrics.json')
    _ok(run_tool(['tools/test.py', config, best[0], '--out', out,
                  '--work-dir', str(tmp_path / 'test'), '--cfg-options',
                  *opts]))
    metrics = json.load(open(out))
    assert {'OA', 'AA', 'F1', 'kappa'} <= set(metrics)
    assert metrics['OA'] == pytest.approx(
        direct_oa(config, best[0], opts, student='image'), abs=1e-12)
