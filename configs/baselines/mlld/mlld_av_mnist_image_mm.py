# MLLD (Jin et al., "Multi-Level Logit Distillation", CVPR 2023) on AV-MNIST:
# image student (LeNet5), multimodal (MM) teacher (the late-fusion net),
# frozen.
#   loss = CE(student, y) + sum_T [instance + batch + class level]
# over T in (2, 3, 4, 5, 6) (MultiLevelLogitLoss), the members' schedule (Table
# 1 protocol, _base_/schedules/baseline_av_mnist.py). The teacher is the run of
# configs/members/av_mnist_fusion.py (see _base_/models/av_mnist_teachers.py):
#   python tools/train.py configs/members/av_mnist_fusion.py \
#       --work-dir work_dirs/av_mnist_fusion
#   python tools/train.py configs/baselines/mlld/mlld_av_mnist_image_mm.py
_base_ = [
    '../../_base_/models/av_mnist_members.py',
    '../../_base_/models/av_mnist_teachers.py',
    '../../_base_/datasets/av_mnist.py',
    '../../_base_/schedules/baseline_av_mnist.py',
    '../../_base_/default_runtime.py'
]
model = dict(
    type='ConfigurableDistiller',
    members=dict(mm={{_base_.fusion_member}},
                 image={{_base_.image_member}}),
    target='image',
    pretrained=dict(mm={{_base_.mm_teacher}}),
    losses=dict(
        loss_ce=dict(type='CrossEntropyLoss'),
        loss_mlld=dict(type='MultiLevelLogitLoss',
                       temperatures=(2.0, 3.0, 4.0, 5.0, 6.0))),
    loss_forward_mappings=dict(
        loss_ce=dict(logits='image:', labels='labels'),
        loss_mlld=dict(pred='image:', target='mm:')))
