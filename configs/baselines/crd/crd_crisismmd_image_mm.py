# CRD (Tian et al., "Contrastive Representation Distillation", ICLR 2020) on
# CrisisMMD-V2: image student (the image MLP), multimodal (MM) teacher, frozen.
#   loss = CE(student, y) + 0.8 * L_CRD
# (beta = 0.8, the authors' CIFAR-100 setting) on 128-d L2-normalised
# embeddings of the student's fc2 and the teacher's fusion.fc2 (trainable
# linear heads, the authors' Embed), NCE with K = 4096 negatives (the MST
# release) from memory banks (2 x 16058 x 128 floats = 15.7 MiB on the training
# device), T = 0.07, momentum 0.5. The members' schedule
# (baseline_crisismmd.py).
# Layers: the penultimate embeddings (the features the heads receive), as on
# AV-Digits and in the reference release, also the second MaskNet layer of
# configs/mst/mst_crisismmd_*.py: fc2 (512-d) of the MLPs, fusion.fc2 (256-d)
# of the fusion net.
# The teacher is the run of configs/members/crisismmd_fusion.py (see
# _base_/models/crisismmd_teachers.py):
#   python tools/train.py configs/members/crisismmd_fusion.py \
#       --work-dir work_dirs/crisismmd_fusion
#   python tools/train.py configs/baselines/crd/crd_crisismmd_image_mm.py
_base_ = [
    '../../_base_/models/crisismmd_members.py',
    '../../_base_/models/crisismmd_teachers.py',
    '../../_base_/datasets/crisismmd.py',
    '../../_base_/schedules/baseline_crisismmd.py',
    '../../_base_/default_runtime.py'
]
model = dict(
    type='ConfigurableDistiller',
    members=dict(mm={{_base_.fusion_member}},
                 image={{_base_.image_member}}),
    target='image',
    pretrained=dict(mm={{_base_.mm_teacher}}),
    connectors=dict(
        embed_s=dict(type='LinearConnector', source='image:fc2',
                     out_channels=128, l2_normalize=True),
        embed_t=dict(type='LinearConnector', source='mm:fusion.fc2',
                     out_channels=128, l2_normalize=True)),
    losses=dict(
        loss_ce=dict(type='CrossEntropyLoss'),
        # num_samples: CrisisMMD-V2 has 16,058 posts (dataset indices 0-16057)
        loss_crd=dict(type='CRDLoss', num_samples=16058, feat_dim=128,
                      num_negatives=4096, temperature=0.07,
                      momentum=0.5, loss_weight=0.8)),
    loss_forward_mappings=dict(
        loss_ce=dict(logits='image:', labels='labels'),
        loss_crd=dict(pred='embed_s', target='embed_t',
                      sample_ids='sample_ids')))
# connectors are built from a dry forward by the multi-stage loop
train_cfg = dict(_delete_=True, type='MultiStageTrainLoop',
                 stages=dict(train={{_base_.train_cfg.max_epochs}}),
                 val_interval=1)
