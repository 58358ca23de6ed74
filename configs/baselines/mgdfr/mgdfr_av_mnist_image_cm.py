# MGDFR (Xue et al., "The Modality Focusing Hypothesis: Towards Understanding
# Crossmodal Knowledge Distillation", ICLR 2023, Algorithm 1) on AV-MNIST:
# image student (LeNet5), cross-modal (CM) teacher: the audio member
# (configs/members/av_mnist_audio.py). The two stages of
# _base_/methods/mgdfr.py (overlap, then kd), the ranked feature the teacher's
# conv3 (128 channels).
# Ranked features as in the reference release (KD_methods/MGDFR.py) and on
# AV-Digits: the audio CNN's conv3 (128 channels), LeNet5 fc1 (84).
# Budget: each stage as long as the single-stage baselines (100 + 100 epochs,
# the paper's "consistent sub-stage epochs"), with the optimizer of
# _base_/schedules/baseline_av_mnist.py. The student is selected in the kd
# stage. The teacher is trained first:
#   python tools/train.py configs/members/av_mnist_audio.py \
#       --work-dir work_dirs/av_mnist_audio
#   python tools/train.py configs/baselines/mgdfr/mgdfr_av_mnist_image_cm.py
_base_ = [
    '../../_base_/methods/mgdfr.py',
    '../../_base_/models/av_mnist_members.py',
    '../../_base_/models/av_mnist_teachers.py',
    '../../_base_/datasets/av_mnist.py',
    '../../_base_/schedules/baseline_av_mnist.py',
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
