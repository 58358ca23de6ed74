"""The paper's baselines declared on the framework (configs/baselines/):
their losses against direct computations, and short runs of the shipped
AV-Digits configs through tools/train.py and tools/test.py."""
import glob
import json
import os
import os.path as osp

import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config

from mstkd.models.losses import MutualKLLoss
from mstkd.registry import MODELS
from tests.helpers import REPO, data_options, direct_oa, run_tool

BASELINES = osp.join(REPO, 'configs', 'baselines')


def _ok(result):
    assert result.returncode == 0, (result.stdout[-3000:] +
                                    result.stderr[-3000:])
    return result.stdout + result.stderr


def _state(path):
    """A stage-end checkpoint's whole state dict (a slim checkpoint's
    references to earlier stage-end files filled back)."""
    from mstkd.utils.checkpoint import load_full_state_dict
    return load_full_state_dict(path)


def _kl(p_logits, q_logits):
    """KL(softmax(p) || softmax(q)), batch mean, written out."""
    p = F.softmax(p_logits.double(), 1)
    return (p * (p.log() - F.log_softmax(q_logits.double(), 1))).sum(1).mean()


# ------------------------------------------------------------------ losses
def test_dml_mutual_loss_is_eq10_of_every_peer():
    """DML Eq. 10: peer k learns from 1/(K-1) sum_{l != k} KL(p_l || p_k),
    the other peers detached."""
    torch.manual_seed(0)
    zs = [torch.randn(6, 5, requires_grad=True) for _ in range(3)]
    loss = MutualKLLoss(temperature=1.0, detach=True, peer_mean=True)(zs)
    want = sum(_kl(zs[l], zs[k]) for k in range(3) for l in range(3)
               if l != k) / 2
    assert float(loss) == pytest.approx(float(want), rel=1e-6)
    loss.backward()
    for k in range(3):  # each peer's gradient: only its own Eq. 10 term
        z = [t.detach().clone() for t in zs]
        z[k].requires_grad_()
        own = sum(_kl(z[l], z[k]) for l in range(3) if l != k) / 2
        own.backward()
        torch.testing.assert_close(zs[k].grad, z[k].grad.float(),
                                   rtol=1e-5, atol=1e-7)
    # without peer_mean it is MST's Eq. 2 sum (twice the mean at K = 3)
    plain = MutualKLLoss(temperature=1.0, detach=True)(zs)
    assert float(plain) == pytest.approx(2 * float(loss), rel=1e-6)


def test_kd_release_weights_follow_main_kd():
    """main-KD.py: (1 - alpha) CE + alpha KL, alpha = 0.5 halved after
    every 30 epochs (`args.alpha *= 0.5 if (epoch + 1) % 30 == 0`)."""
    from mstkd.utils import register_all_modules
    register_all_modules(init_default_scope=False)
    cfg = Config.fromfile(
        osp.join(BASELINES, 'kd', 'kd_avdigits_image_mm_release.py'))
    ce = MODELS.build(cfg.model.losses.loss_ce)
    kd = MODELS.build(cfg.model.losses.loss_kd)
    alpha = 0.5
    for epoch in range(95):
        ce.set_epoch(epoch)
        kd.set_epoch(epoch)
        assert kd.loss_weight == pytest.approx(alpha, rel=1e-12), epoch
        assert ce.loss_weight == pytest.approx(1 - alpha, rel=1e-12), epoch
        alpha *= 0.5 if (epoch + 1) % 30 == 0 else 1.0
    paper = Config.fromfile(
        osp.join(BASELINES, 'kd', 'kd_avdigits_image_mm.py'))
    assert 'loss_weight' not in paper.model.losses.loss_kd  # Hinton: 1, 1


# ------------------------------------------------------------- end to end
def _member_run(npz, config, work_dir, options=()):
    """A member run's work dir (1 epoch): the teacher of a baseline."""
    _ok(run_tool(['tools/train.py', config, '--work-dir', work_dir,
                  '--cfg-options', 'train_cfg.max_epochs=1',
                  *data_options(npz), *options]))
    return work_dir


@pytest.fixture(scope='module')
def teachers(tiny_avdigits, tmp_path_factory):
    root = tmp_path_factory.mktemp('teachers')
    return dict(
        mm=_member_run(tiny_avdigits, 'configs/members/avdigits_fusion.py',
                       str(root / 'fusion')),
        image=_member_run(tiny_avdigits, 'configs/members/avdigits_image.py',
                          str(root / 'image')))


def _scalars(work):
    rows = [json.loads(line) for path in glob.glob(
        osp.join(work, '*', 'vis_data', 'scalars.json'))
        for line in open(path)]
    return {k for r in rows if 'loss' in r for k in r
            if k.startswith('loss_')}


@pytest.mark.parametrize('config,teacher,student,losses', [
    ('kd/kd_avdigits_image_mm.py', 'mm', 'image', {'loss_ce', 'loss_kd'}),
    ('kd/kd_avdigits_audio_cm.py', 'image', 'audio', {'loss_ce', 'loss_kd'}),
    ('mlld/mlld_avdigits_image_mm.py', 'mm', 'image',
     {'loss_ce', 'loss_mlld'}),
    # trainable embedding heads on both sides (connectors)
    ('rkd/rkd_avdigits_image_mm_release.py', 'mm', 'image',
     {'loss_ce', 'loss_rkd'}),
    # projectors on three student branches; the audio student's fc@input
    ('ofa/ofa_avdigits_audio_cm.py', 'image', 'audio',
     {'loss_ce', 'loss_ofa', 'loss_ofa_logits'}),
    # memory banks keyed by the sample index
    ('crd/crd_avdigits_audio_mm.py', 'mm', 'audio', {'loss_ce', 'loss_crd'}),
])
def test_baseline_trains_the_student_from_a_frozen_teacher_run(
        config, teacher, student, losses, teachers, tiny_avdigits, tmp_path):
    work = str(tmp_path / 'run')
    multi_stage = Config.fromfile(osp.join(
        BASELINES, config)).train_cfg.type == 'MultiStageTrainLoop'
    log = _ok(run_tool([
        'tools/train.py', osp.join(BASELINES, config), '--work-dir', work,
        '--cfg-options',
        'train_cfg.stages.train=2' if multi_stage else 'train_cfg.max_epochs=2',
        'default_hooks.checkpoint.max_keep_ckpts=2',
        f'model.pretrained.{teacher}.checkpoint={teachers[teacher]}',
        *data_options(tiny_avdigits)]))
    best_teacher = glob.glob(
        osp.join(teachers[teacher], 'best_CE_epoch_*.pth'))[0]
    assert (f'Member "{teacher}" loaded from {best_teacher} (prefix '
            '"member.")') in log
    assert _scalars(work) == losses
    first, last = (_state(osp.join(work, f'epoch_{e}.pth')) for e in (1, 2))
    source = _state(best_teacher)
    for key, value in source.items():  # the teacher never trains
        name = f'members.{teacher}.' + key[len('member.'):]
        torch.testing.assert_close(first[name], value, rtol=0, atol=0)
        torch.testing.assert_close(last[name], value, rtol=0, atol=0)
    moved = [k for k in first if k.startswith(f'members.{student}.')
             and not torch.equal(first[k], last[k])]
    assert moved

    # the student's test metrics equal a direct count on the test split
    best = glob.glob(osp.join(work, 'best_CE_epoch_*.pth'))
    out = str(tmp_path / 'm.json')
    _ok(run_tool(['tools/test.py', osp.join(BASELINES, config), best[0],
                  '--out', out, '--work-dir', str(tmp_path / 't'),
                  '--cfg-options',
                  f'model.pretrained.{teacher}.checkpoint='
                  f'{teachers[teacher]}', *data_options(tiny_avdigits)]))
    metrics = json.load(open(out))
    assert metrics['OA'] == pytest.approx(
        direct_oa(osp.join(BASELINES, config), best[0], [
            f'model.pretrained.{teacher}.checkpoint={teachers[teacher]}',
            *data_options(tiny_avdigits)], student=student), abs=1e-12)


def test_dml_trains_every_peer(tiny_avdigits, tmp_path):
    work = str(tmp_path / 'dml')
    _ok(run_tool([
        'tools/train.py',
        osp.join(BASELINES, 'dml', 'dml_avdigits_image_mmcm.py'),
        '--work-dir', work, '--cfg-options', 'train_cfg.max_epochs=2',
        'default_hooks.checkpoint.max_keep_ckpts=2',
        *data_options(tiny_avdigits)]))
    assert _scalars(work) == {'loss_ce_image', 'loss_ce_mm',
                              'loss_ce_audio', 'loss_mutual'}
    first, last = (_state(osp.join(work, f'epoch_{e}.pth')) for e in (1, 2))
    for peer in ('image', 'mm', 'audio'):
        assert any(not torch.equal(first[k], last[k]) for k in first
                   if k.startswith(f'members.{peer}.')), peer


def test_missing_teacher_names_the_command(tiny_avdigits, tmp_path):
    empty = tmp_path / 'no_run'
    os.makedirs(empty)
    result = run_tool([
        'tools/train.py', osp.join(BASELINES, 'kd', 'kd_avdigits_image_mm.py'),
        '--work-dir', str(tmp_path / 'w'), '--cfg-options',
        f'model.pretrained.mm.checkpoint={empty}',
        *data_options(tiny_avdigits)])
    assert result.returncode == 2
    err = result.stdout + result.stderr
    assert 'Traceback' not in err
    assert (f'the work dir {empty} has no best checkpoint by validation '
            'loss') in err
    assert 'python tools/train.py configs/members/avdigits_fusion.py' in err


# ------------------------------------------- methods whose teacher trains
@pytest.fixture(scope='module')
def audio_teacher(tiny_avdigits, tmp_path_factory):
    """A 1-epoch audio member run: the CM teacher of the image student."""
    return _member_run(tiny_avdigits, 'configs/members/avdigits_audio.py',
                       str(tmp_path_factory.mktemp('teachers') / 'audio'))


def _check_test_oa(config, ckpt, student, options, npz, tmp_path):
    """tools/test.py's OA of ``ckpt`` equals a direct forward pass."""
    out = str(tmp_path / 'm.json')
    opts = [f'{k}={v}' for k, v in options.items()] + data_options(npz)
    _ok(run_tool(['tools/test.py', config, ckpt, '--out', out, '--work-dir',
                  str(tmp_path / 't'), '--cfg-options', *opts]))
    assert json.load(open(out))['OA'] == pytest.approx(
        direct_oa(config, ckpt, opts, student=student), abs=1e-12)


def test_mgdfr_ranks_the_overlap_teacher_then_distils_a_fresh_student(
        audio_teacher, tiny_avdigits, tmp_path):
    """overlap: teacher and student train jointly; kd: the teacher's conv3
    channels ranked once (top 25% kept, in the checkpoint), the teacher
    frozen, the student re-initialised and distilled."""
    config = osp.join(BASELINES, 'mgdfr', 'mgdfr_avdigits_image_cm.py')
    work = str(tmp_path / 'run')
    options = {'model.pretrained.audio.checkpoint': audio_teacher}
    log = _ok(run_tool([
        'tools/train.py', config, '--work-dir', work, '--cfg-options',
        'train_cfg.stages.overlap=1', 'train_cfg.stages.kd=1',
        'model.num_permutations=2',
        *[f'{k}={v}' for k, v in options.items()],
        *data_options(tiny_avdigits)]))
    best_teacher = glob.glob(osp.join(audio_teacher, 'best_CE_epoch_*.pth'))[0]
    assert f'Member "audio" loaded from {best_teacher}' in log
    assert 'kept 16 as modality-general' in log
    assert 'student re-initialised' in log
    assert _scalars(work) == {'loss_ce', 'loss_ce_t', 'loss_overlap',
                              'loss_kd'}
    source = _state(best_teacher)
    overlap, kd = (_state(osp.join(work, f'{s}_end.pth'))
                   for s in ('overlap', 'kd'))
    teacher = {f'members.audio.{k[len("member."):]}': v
               for k, v in source.items()}
    assert any(not torch.equal(overlap[k], v) for k, v in teacher.items())
    for key in teacher:  # frozen in kd
        torch.testing.assert_close(kd[key], overlap[key], rtol=0, atol=0)
    assert any(not torch.equal(kd[k], overlap[k]) for k in kd
               if k.startswith('members.image.'))
    # the ranking: min-max normalised salience of 64 channels, top 16 kept
    assert not bool(overlap['saliency_done'])
    salience, mask = kd['salience'], kd['general_mask']
    assert bool(kd['saliency_done']) and salience.shape == (64, )
    assert float(salience.min()) == 0.0 and float(salience.max()) == 1.0
    assert int(mask.sum()) == 16
    assert float(salience[mask].min()) >= float(salience[~mask].max())
    best = glob.glob(osp.join(work, 'best_CE_epoch_*.pth'))
    assert [osp.basename(b) for b in best] == ['best_CE_epoch_2.pth']
    _check_test_oa(config, best[0], 'image', options, tiny_avdigits, tmp_path)


def test_c2kd_trains_the_student_the_teacher_and_both_proxies(
        audio_teacher, tiny_avdigits, tmp_path):
    config = osp.join(BASELINES, 'c2kd', 'c2kd_avdigits_image_cm.py')
    work = str(tmp_path / 'run')
    options = {'model.pretrained.audio.checkpoint': audio_teacher}
    log = _ok(run_tool([
        'tools/train.py', config, '--work-dir', work, '--cfg-options',
        'train_cfg.stages.train=2',
        'default_hooks.checkpoint.max_keep_ckpts=2',
        *[f'{k}={v}' for k, v in options.items()],
        *data_options(tiny_avdigits)]))
    best_teacher = glob.glob(osp.join(audio_teacher, 'best_CE_epoch_*.pth'))[0]
    assert f'Member "audio" loaded from {best_teacher}' in log
    assert 'proxy_s (ProxyHead: 84 -> 10)' in log
    assert 'proxy_t (ProxyHead: 1024 -> 10)' in log
    assert _scalars(work) == {'loss_ce', 'loss_ce_t', 'loss_bd_s',
                              'loss_bd_t', 'loss_ofsd'}
    first, last = (_state(osp.join(work, f'epoch_{e}.pth')) for e in (1, 2))
    source = _state(best_teacher)
    assert any(not torch.equal(first[f'members.audio.{k[7:]}'], v)
               for k, v in source.items())  # the teacher trains from epoch 1
    for prefix in ('members.image.', 'members.audio.', 'connectors.proxy_s.',
                   'connectors.proxy_t.'):
        assert any(not torch.equal(first[k], last[k]) for k in first
                   if k.startswith(prefix)), prefix
    best = glob.glob(osp.join(work, 'best_CE_epoch_*.pth'))
    _check_test_oa(config, best[0], 'image', options, tiny_avdigits, tmp_path)
