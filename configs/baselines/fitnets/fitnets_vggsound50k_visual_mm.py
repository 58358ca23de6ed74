# FitNets (Romero et al., "FitNets: Hints for Thin Deep Nets", ICLR 2015) on
# VGGSound-50k: visual student (the 3-D CNN + MLP), multimodal (MM) teacher,
# frozen. The two stages of _base_/methods/fitnets.py (hint, then kd), the
# regressor a LinearConnector from the student's guided layer, fc2 (160-d), to
# the teacher's hint layer, fusion.fc2 (160-d).
# Layers: the penultimate embeddings (the features the heads receive), as on
# AV-Digits and in the reference release, also the second MaskNet layer of
# configs/mst/mst_vggsound50k_*.py: fc2 (160-d) of the unimodal members,
# fusion.fc2 (160-d) of the fusion net.
# Budget: each stage as long as the single-stage baselines (100 + 100 epochs,
# the paper's "consistent sub-stage epochs", as MST-Distill's S1 + S3), with
# the optimizer of _base_/schedules/baseline_vggsound50k.py. The teacher is the
# run of configs/members/vggsound50k_fusion.py (see
# _base_/models/vggsound50k_teachers.py):
#   python tools/train.py configs/members/vggsound50k_fusion.py \
#       --work-dir work_dirs/vggsound50k_fusion
#   python tools/train.py \
#       configs/baselines/fitnets/fitnets_vggsound50k_visual_mm.py
_base_ = [
    '../../_base_/methods/fitnets.py',
    '../../_base_/models/vggsound50k_members.py',
    '../../_base_/models/vggsound50k_teachers.py',
    '../../_base_/datasets/vggsound50k.py',
    '../../_base_/schedules/baseline_vggsound50k.py',
    '../../_base_/default_runtime.py'
]
model = dict(
    members=dict(mm={{_base_.fusion_member}},
                 visual={{_base_.visual_member}}),
    target='visual',
    pretrained=dict(mm={{_base_.mm_teacher}}),
    connectors=dict(
        hint=dict(type='LinearConnector', source='visual:fc2',
                  target='mm:fusion.fc2')),
    loss_forward_mappings=dict(
        loss_hint=dict(pred='hint', target='mm:fusion.fc2'),
        loss_ce=dict(logits='visual:', labels='labels'),
        loss_kd=dict(pred='visual:', target='mm:')))
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
