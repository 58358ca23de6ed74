# OFA (Hao et al., "One-for-All: Bridge the Gap Between Heterogeneous
# Architectures in Knowledge Distillation", NeurIPS 2023) on AV-MNIST: image
# student (LeNet5), multimodal (MM) teacher, frozen. The loss of
# _base_/methods/ofa.py (eps = 1.0, T = 1) on the student branches below, the
# members' schedule (baseline_av_mnist.py).
# Branches, as on AV-Digits and in the reference release (KD_methods/OFA.py):
# LeNet5 conv1, conv2, fc1 (image); the CNN's conv1, conv2, conv3 (audio).
# The teacher is the run of configs/members/av_mnist_fusion.py (see
# _base_/models/av_mnist_teachers.py):
#   python tools/train.py configs/members/av_mnist_fusion.py \
#       --work-dir work_dirs/av_mnist_fusion
#   python tools/train.py configs/baselines/ofa/ofa_av_mnist_image_mm.py
_base_ = [
    '../../_base_/methods/ofa.py',
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
    # out_channels (the classes) from the teacher's logits
    connectors=dict(
        proj1=dict(type='OFAProjector', source='image:conv1',
                   target='mm:'),
        proj2=dict(type='OFAProjector', source='image:conv2',
                   target='mm:'),
        proj3=dict(type='OFAProjector', source='image:fc1',
                   target='mm:')),
    loss_forward_mappings=dict(
        loss_ce=dict(logits='image:', labels='labels'),
        loss_ofa=dict(preds=['proj1', 'proj2', 'proj3'], target='mm:',
                      labels='labels'),
        loss_ofa_logits=dict(preds='image:', target='mm:',
                             labels='labels')))
# connectors are built from a dry forward by the multi-stage loop
train_cfg = dict(_delete_=True, type='MultiStageTrainLoop',
                 stages=dict(train={{_base_.train_cfg.max_epochs}}),
                 val_interval=1)
