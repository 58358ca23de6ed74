# MLLD (Jin et al., "Multi-Level Logit Distillation", CVPR 2023) on AV-MNIST:
# image student (LeNet5), multimodal (MM) teacher (the late-fusion net),
# frozen, the loss of _base_/methods/mlld.py, the members' schedule (Table 1
# protocol, _base_/schedules/baseline_av_mnist.py). The teacher is the run of
# configs/members/av_mnist_fusion.py (see _base_/models/av_mnist_teachers.py):
#   python tools/train.py configs/members/av_mnist_fusion.py \
#       --work-dir work_dirs/av_mnist_fusion
#   python tools/train.py configs/baselines/mlld/mlld_av_mnist_image_mm.py
_base_ = [
    '../../_base_/methods/mlld.py',
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
        loss_mlld=dict(pred='image:', target='mm:')))
