# CRD (Tian et al., "Contrastive Representation Distillation", ICLR 2020) on
# CrisisMMD-V2: image student (the image MLP), multimodal (MM) teacher, frozen.
# The loss of _base_/methods/crd.py on the embeddings of the student's fc2 and
# the teacher's fusion.fc2 (memory banks: 2 x 16058 x 128 floats = 15.7 MiB
# on the training device), the members' schedule (baseline_crisismmd.py).
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
    '../../_base_/methods/crd.py',
    '../../_base_/models/crisismmd_members.py',
    '../../_base_/models/crisismmd_teachers.py',
    '../../_base_/datasets/crisismmd.py',
    '../../_base_/schedules/baseline_crisismmd.py',
    '../../_base_/default_runtime.py'
]
model = dict(
    members=dict(mm={{_base_.fusion_member}},
                 image={{_base_.image_member}}),
    target='image',
    pretrained=dict(mm={{_base_.mm_teacher}}),
    connectors=dict(embed_s=dict(source='image:fc2'),
                    embed_t=dict(source='mm:fusion.fc2')),
    losses=dict(
        # num_samples: CrisisMMD-V2 has 16,058 posts (dataset indices 0-16057)
        loss_crd=dict(num_samples=16058)),
    loss_forward_mappings=dict(
        loss_ce=dict(logits='image:', labels='labels'),
        loss_crd=dict(pred='embed_s', target='embed_t',
                      sample_ids='sample_ids')))
# connectors are built from a dry forward by the multi-stage loop
train_cfg = dict(_delete_=True, type='MultiStageTrainLoop',
                 stages=dict(train={{_base_.train_cfg.max_epochs}}),
                 val_interval=1)
