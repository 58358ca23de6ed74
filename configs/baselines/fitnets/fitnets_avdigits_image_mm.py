# FitNets (Romero et al., "FitNets: Hints for Thin Deep Nets", ICLR 2015) on
# AV-Digits: image student, multimodal (MM) teacher, frozen. The two stages of
# _base_/methods/fitnets.py (hint, then kd), the regressor from the student's
# guided layer (LeNet5 fc1, 84-d) to the teacher's hint layer (the fusion net's
# fc1, 170-d).
# Budget: 15 + 15 epochs, the MST student's S1 + S3. The reference release
# (main-FitNets.py, KD_methods/FitNets.py) uses two hint/guided pairs and
# keeps the best hint-stage state by validation hint loss.
#   python tools/train.py configs/members/avdigits_fusion.py \
#       --work-dir work_dirs/avdigits_fusion
#   python tools/train.py configs/baselines/fitnets/fitnets_avdigits_image_mm.py
_base_ = [
    '../../_base_/methods/fitnets.py',
    '../../_base_/models/avdigits_members.py',
    '../../_base_/models/avdigits_teachers.py',
    '../../_base_/datasets/avdigits.py',
    '../../_base_/default_runtime.py'
]
model = dict(
    members=dict(mm={{_base_.fusion_member}}, image={{_base_.image_member}}),
    target='image',
    pretrained=dict(mm={{_base_.mm_teacher}}),
    connectors=dict(
        hint=dict(type='LinearConnector', source='image:fc1',
                  target='mm:fusion.fc1')),
    loss_forward_mappings=dict(
        loss_hint=dict(pred='hint', target='mm:fusion.fc1'),
        loss_ce=dict(logits='image:', labels='labels'),
        loss_kd=dict(pred='image:', target='mm:')))
train_cfg = dict(type='MultiStageTrainLoop', stages=dict(hint=15, kd=15),
                 val_interval=1)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
optim_wrapper = dict(
    constructor='StageOptimWrapperConstructor',
    hint=dict(type='OptimWrapper', optimizer=dict(type='Adam', lr=1e-3)),
    kd=dict(type='OptimWrapper', optimizer=dict(type='Adam', lr=1e-3)))
# the student is selected in the KD stage (its head is untrained before)
default_hooks = dict(
    checkpoint=dict(type='StageCheckpointHook', best_stages=('kd', )))
