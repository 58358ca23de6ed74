# MGDFR (Xue et al., "The Modality Focusing Hypothesis: Towards Understanding
# Crossmodal Knowledge Distillation", ICLR 2023, Algorithm 1) on CrisisMMD-V2:
# image student (the image MLP), cross-modal (CM) teacher: the text member
# (configs/members/crisismmd_text.py). The two stages of
# _base_/methods/mgdfr.py (overlap, then kd), the ranked feature the teacher's
# fc2 (512 channels).
# Ranked feature as in the reference release (KD_methods/MGDFR.py) on
# CrisisMMD-V2: the cross-modal MLP's fc2 (512 channels, its penultimate
# layer).
# Budget: each stage as long as the single-stage baselines (100 + 100 epochs,
# the paper's "consistent sub-stage epochs"), with the optimizer of
# _base_/schedules/baseline_crisismmd.py. The student is selected in the kd
# stage. The teacher is trained first:
#   python tools/train.py configs/members/crisismmd_text.py \
#       --work-dir work_dirs/crisismmd_text
#   python tools/train.py configs/baselines/mgdfr/mgdfr_crisismmd_image_cm.py
_base_ = [
    '../../_base_/methods/mgdfr.py',
    '../../_base_/models/crisismmd_members.py',
    '../../_base_/models/crisismmd_teachers.py',
    '../../_base_/datasets/crisismmd.py',
    '../../_base_/schedules/baseline_crisismmd.py',
    '../../_base_/default_runtime.py'
]
model = dict(
    members=dict(text={{_base_.text_member}},
                 image={{_base_.image_member}}),
    target='image',
    pretrained=dict(text={{_base_.text_teacher}}),
    teacher='text',
    feature='text:fc2',
    loss_forward_mappings=dict(
        loss_ce=dict(logits='image:', labels='labels'),
        loss_ce_t=dict(logits='text:', labels='labels'),
        loss_overlap=dict(pred='image:', target='text:'),
        loss_kd=dict(pred='image:', target='general_logits')),
    stages=dict(overlap=dict(trainable=['student', 'members.text'])))
train_cfg = dict(
    _delete_=True, type='MultiStageTrainLoop',
    stages=dict(overlap={{_base_.train_cfg.max_epochs}},
                kd={{_base_.train_cfg.max_epochs}}),
    val_interval=1)
optim_wrapper = dict(
    _delete_=True, constructor='StageOptimWrapperConstructor',
    overlap={{_base_.optim_wrapper}}, kd={{_base_.optim_wrapper}})
# the student is selected in the kd stage (it is re-initialised at its start)
default_hooks = dict(
    checkpoint=dict(type='StageCheckpointHook', best_stages=('kd', )))
