# MGDFR (Xue et al., "The Modality Focusing Hypothesis: Towards Understanding
# Crossmodal Knowledge Distillation", ICLR 2023, Algorithm 1) on AV-Digits:
# image student, cross-modal (CM) teacher: the audio member
# (configs/members/avdigits_audio.py, trained first). The two stages of
# _base_/methods/mgdfr.py (overlap, then kd), the ranked feature the teacher's
# conv3 (64 channels).
# Budget: 15 + 15 epochs (the MST student's S1 + S3). The student is
# selected in the kd stage.
#   python tools/train.py configs/members/avdigits_audio.py \
#       --work-dir work_dirs/avdigits_audio
#   python tools/train.py configs/baselines/mgdfr/mgdfr_avdigits_image_cm.py
# The reference release (main-MGDFR.py) weighs 0.5 CE + 0.5 KL in kd:
# --cfg-options model.losses.loss_ce.loss_weight=0.5
#   model.losses.loss_kd.loss_weight=0.5
_base_ = [
    '../../_base_/methods/mgdfr.py',
    '../../_base_/models/avdigits_members.py',
    '../../_base_/models/avdigits_teachers.py',
    '../../_base_/datasets/avdigits.py',
    '../../_base_/default_runtime.py'
]
model = dict(
    members=dict(audio={{_base_.audio_member}},
                 image={{_base_.image_member}}),
    target='image',
    pretrained=dict(audio={{_base_.audio_teacher}}),
    teacher='audio',
    feature='audio:conv3',
    loss_forward_mappings=dict(
        loss_ce=dict(logits='image:', labels='labels'),
        loss_ce_t=dict(logits='audio:', labels='labels'),
        loss_overlap=dict(pred='image:', target='audio:'),
        loss_kd=dict(pred='image:', target='general_logits')),
    stages=dict(overlap=dict(trainable=['student', 'members.audio'])))
train_cfg = dict(type='MultiStageTrainLoop', stages=dict(overlap=15, kd=15),
                 val_interval=1)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
optim_wrapper = dict(
    constructor='StageOptimWrapperConstructor',
    overlap=dict(type='OptimWrapper', optimizer=dict(type='Adam', lr=1e-3)),
    kd=dict(type='OptimWrapper', optimizer=dict(type='Adam', lr=1e-3)))
# the student is selected in the kd stage (it is re-initialised at its start)
default_hooks = dict(
    checkpoint=dict(type='StageCheckpointHook', best_stages=('kd', )))
