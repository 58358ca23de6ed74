# FitNets (Romero et al., "FitNets: Hints for Thin Deep Nets", ICLR 2015) on
# CrisisMMD-V2: image student (the image MLP), multimodal (MM) teacher, frozen.
# The two stages of _base_/methods/fitnets.py (hint, then kd), the regressor a
# LinearConnector from the student's guided layer, fc2 (512-d), to the
# teacher's hint layer, fusion.fc2 (256-d).
# Layers: the penultimate embeddings (the features the heads receive), as on
# AV-Digits and in the reference release, also the second MaskNet layer of
# configs/mst/mst_crisismmd_*.py: fc2 (512-d) of the MLPs, fusion.fc2 (256-d)
# of the fusion net.
# Budget: each stage as long as the single-stage baselines (100 + 100 epochs,
# the paper's "consistent sub-stage epochs", as MST-Distill's S1 + S3), with
# the optimizer of _base_/schedules/baseline_crisismmd.py. The teacher is the
# run of configs/members/crisismmd_fusion.py (see
# _base_/models/crisismmd_teachers.py):
#   python tools/train.py configs/members/crisismmd_fusion.py \
#       --work-dir work_dirs/crisismmd_fusion
#   python tools/train.py \
#       configs/baselines/fitnets/fitnets_crisismmd_image_mm.py
_base_ = [
    '../../_base_/methods/fitnets.py',
    '../../_base_/models/crisismmd_members.py',
    '../../_base_/models/crisismmd_teachers.py',
    '../../_base_/datasets/crisismmd.py',
    '../../_base_/schedules/baseline_crisismmd.py',
    '../../_base_/default_runtime.py'
]
model = dict(
    members=dict(mm={{_base_.fusion_member}},
                 image={{_base_.image_member}}),
    target='image',
    pretrained=dict(mm={{_base_.mm_teacher}}),
    connectors=dict(
        hint=dict(type='LinearConnector', source='image:fc2',
                  target='mm:fusion.fc2')),
    loss_forward_mappings=dict(
        loss_hint=dict(pred='hint', target='mm:fusion.fc2'),
        loss_ce=dict(logits='image:', labels='labels'),
        loss_kd=dict(pred='image:', target='mm:')))
train_cfg = dict(
    _delete_=True, type='MultiStageTrainLoop',
    stages=dict(hint={{_base_.train_cfg.max_epochs}},
                kd={{_base_.train_cfg.max_epochs}}),
    val_interval=1)
optim_wrapper = dict(
    _delete_=True, constructor='StageOptimWrapperConstructor',
    hint={{_base_.optim_wrapper}}, kd={{_base_.optim_wrapper}})
# the student is selected in the KD stage (its head is untrained before)
default_hooks = dict(
    checkpoint=dict(type='StageCheckpointHook', best_stages=('kd', )))
