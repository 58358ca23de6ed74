# CRD (Tian et al., "Contrastive Representation Distillation", ICLR 2020) on
# RAVDESS: video student (the 3-D CNN + MLP), multimodal (MM) teacher, frozen.
# The loss of _base_/methods/crd.py on the embeddings of the student's fc2 and
# the teacher's fusion.fc2 (K = 4096 negatives: about 4.7 x the 864 training
# clips, drawn with replacement; memory banks: 2 x 1440 x 128 floats =
# 1.4 MiB on the training device), the members' schedule
# (baseline_ravdess.py).
# Layers: the penultimate embeddings (the features the heads receive), as on
# AV-Digits and in the reference release, also the second MaskNet layer of
# configs/mst/mst_ravdess_*.py: fc2 (160-d) of the unimodal members, fusion.fc2
# (160-d) of the fusion net.
# The teacher is the run of configs/members/ravdess_fusion.py (see
# _base_/models/ravdess_teachers.py):
#   python tools/train.py configs/members/ravdess_fusion.py \
#       --work-dir work_dirs/ravdess_fusion
#   python tools/train.py configs/baselines/crd/crd_ravdess_video_mm.py
_base_ = [
    '../../_base_/methods/crd.py',
    '../../_base_/models/ravdess_members.py',
    '../../_base_/models/ravdess_teachers.py',
    '../../_base_/datasets/ravdess.py',
    '../../_base_/schedules/baseline_ravdess.py',
    '../../_base_/default_runtime.py'
]
model = dict(
    members=dict(mm={{_base_.fusion_member}},
                 video={{_base_.video_member}}),
    target='video',
    pretrained=dict(mm={{_base_.mm_teacher}}),
    connectors=dict(embed_s=dict(source='video:fc2'),
                    embed_t=dict(source='mm:fusion.fc2')),
    losses=dict(
        # num_samples: RAVDESS has 1,440 clips (dataset indices 0-1439)
        loss_crd=dict(num_samples=1440)),
    loss_forward_mappings=dict(
        loss_ce=dict(logits='video:', labels='labels'),
        loss_crd=dict(pred='embed_s', target='embed_t',
                      sample_ids='sample_ids')))
# connectors are built from a dry forward by the multi-stage loop
train_cfg = dict(_delete_=True, type='MultiStageTrainLoop',
                 stages=dict(train={{_base_.train_cfg.max_epochs}}),
                 val_interval=1)
