# CRD (Tian et al., "Contrastive Representation Distillation", ICLR 2020) on
# AV-MNIST: image student (LeNet5), multimodal (MM) teacher, frozen.
# The loss of _base_/methods/crd.py on the embeddings of the student's fc1 and
# the teacher's fusion.fc1 (memory banks: 2 x 70000 x 128 floats = 68.4 MiB
# on the training device), the members' schedule (baseline_av_mnist.py).
# Layers: the penultimate embeddings (the features the heads receive), as on
# AV-Digits and in the reference release: LeNet5 fc1 (84-d), the audio CNN's
# fc@input (its flattened 128x14x14 map, 25,088-d), the fusion net's fusion.fc1
# (298-d).
# The teacher is the run of configs/members/av_mnist_fusion.py (see
# _base_/models/av_mnist_teachers.py):
#   python tools/train.py configs/members/av_mnist_fusion.py \
#       --work-dir work_dirs/av_mnist_fusion
#   python tools/train.py configs/baselines/crd/crd_av_mnist_image_mm.py
_base_ = [
    '../../_base_/methods/crd.py',
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
    connectors=dict(embed_s=dict(source='image:fc1'),
                    embed_t=dict(source='mm:fusion.fc1')),
    losses=dict(
        # num_samples: AV-MNIST has 70,000 samples (dataset indices 0-69999)
        loss_crd=dict(num_samples=70000)),
    loss_forward_mappings=dict(
        loss_ce=dict(logits='image:', labels='labels'),
        loss_crd=dict(pred='embed_s', target='embed_t',
                      sample_ids='sample_ids')))
# connectors are built from a dry forward by the multi-stage loop
train_cfg = dict(_delete_=True, type='MultiStageTrainLoop',
                 stages=dict(train={{_base_.train_cfg.max_epochs}}),
                 val_interval=1)
