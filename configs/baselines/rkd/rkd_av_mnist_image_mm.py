# RKD (Park et al., "Relational Knowledge Distillation", CVPR 2019) on
# AV-MNIST: image student (LeNet5), multimodal (MM) teacher, frozen.
# The loss of _base_/methods/rkd.py between the student's penultimate feature,
# fc1 (84-d), and the teacher's, fusion.fc1 (298-d); the members' schedule
# (baseline_av_mnist.py).
# Layers: the penultimate embeddings (the features the heads receive), as on
# AV-Digits and in the reference release: LeNet5 fc1 (84-d), the audio CNN's
# fc@input (its flattened 128x14x14 map, 25,088-d), the fusion net's fusion.fc1
# (298-d).
# The teacher is the run of configs/members/av_mnist_fusion.py (see
# _base_/models/av_mnist_teachers.py):
#   python tools/train.py configs/members/av_mnist_fusion.py \
#       --work-dir work_dirs/av_mnist_fusion
#   python tools/train.py configs/baselines/rkd/rkd_av_mnist_image_mm.py
_base_ = [
    '../../_base_/methods/rkd.py',
    '../../_base_/models/av_mnist_members.py',
    '../../_base_/models/av_mnist_teachers.py',
    '../../_base_/datasets/av_mnist.py',
    '../../_base_/schedules/baseline_av_mnist.py',
    '../../_base_/default_runtime.py'
]
model = dict(
    members=dict(mm={{_base_.fusion_member}},
                 image={{_base_.image_member}}),
    target='image',
    pretrained=dict(mm={{_base_.mm_teacher}}),
    loss_forward_mappings=dict(
        loss_ce=dict(logits='image:', labels='labels'),
        loss_rkd=dict(pred='image:fc1', target='mm:fusion.fc1')))
