# CRD (Tian et al., "Contrastive Representation Distillation", ICLR 2020) on
# VGGSound-50k: visual student (the 3-D CNN + MLP), multimodal (MM) teacher,
# frozen.
# The loss of _base_/methods/crd.py on the embeddings of the student's fc2 and
# the teacher's fusion.fc2 (memory banks: 2 x 48755 x 128 floats = 47.6 MiB
# on the training device), the members' schedule (baseline_vggsound50k.py).
# Layers: the penultimate embeddings (the features the heads receive), as on
# AV-Digits and in the reference release, also the second MaskNet layer of
# configs/mst/mst_vggsound50k_*.py: fc2 (160-d) of the unimodal members,
# fusion.fc2 (160-d) of the fusion net.
# The teacher is the run of configs/members/vggsound50k_fusion.py (see
# _base_/models/vggsound50k_teachers.py):
#   python tools/train.py configs/members/vggsound50k_fusion.py \
#       --work-dir work_dirs/vggsound50k_fusion
#   python tools/train.py configs/baselines/crd/crd_vggsound50k_visual_mm.py
_base_ = [
    '../../_base_/methods/crd.py',
    '../../_base_/models/vggsound50k_members.py',
    '../../_base_/models/vggsound50k_teachers.py',
    '../../_base_/datasets/vggsound50k.py',
    '../../_base_/schedules/baseline_vggsound50k.py',
    '../../_base_/default_runtime.py'
]
model = dict(
    members=dict(mm={{_base_.fusion_member}},
                 visual={{_base_.visual_member}}),
    target='visual',
    pretrained=dict(mm={{_base_.mm_teacher}}),
    connectors=dict(embed_s=dict(source='visual:fc2'),
                    embed_t=dict(source='mm:fusion.fc2')),
    losses=dict(
        # num_samples: VGGSound-50k has 48,755 clips in the release metadata
        #   (indices 0-48754); a metadata file with N lines needs
        #   model.losses.loss_crd.num_samples=N
        loss_crd=dict(num_samples=48755)),
    loss_forward_mappings=dict(
        loss_ce=dict(logits='visual:', labels='labels'),
        loss_crd=dict(pred='embed_s', target='embed_t',
                      sample_ids='sample_ids')))
# connectors are built from a dry forward by the multi-stage loop
train_cfg = dict(_delete_=True, type='MultiStageTrainLoop',
                 stages=dict(train={{_base_.train_cfg.max_epochs}}),
                 val_interval=1)
