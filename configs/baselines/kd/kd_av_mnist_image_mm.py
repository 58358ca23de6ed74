# KD (Hinton et al., "Distilling the Knowledge in a Neural Network", 2015) on
# AV-MNIST: image student (LeNet5), multimodal (MM) teacher (the late-fusion
# net), frozen.
#   loss = CE(student, y)
#        + T^2 KL(softmax(teacher / T) || softmax(student / T))
# with T = 4 and the members' schedule (Table 1 protocol,
# _base_/schedules/baseline_av_mnist.py). The teacher is the run of
# configs/members/av_mnist_fusion.py (see _base_/models/av_mnist_teachers.py):
#   python tools/train.py configs/members/av_mnist_fusion.py \
#       --work-dir work_dirs/av_mnist_fusion
#   python tools/train.py configs/baselines/kd/kd_av_mnist_image_mm.py
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
        loss_kd=dict(type='KLDivergenceLoss', temperature=4.0)),
    loss_forward_mappings=dict(
        loss_ce=dict(logits='image:', labels='labels'),
        loss_kd=dict(pred='image:', target='mm:')))
