# CRD (Tian et al., "Contrastive Representation Distillation", ICLR 2020)
# on AV-Digits: image student, multimodal (MM) teacher, frozen.
# The loss of _base_/methods/crd.py on the embeddings of the student's fc1
# and the teacher's fusion.fc1 (memory banks: 2 x 5000 x 128 floats =
# 4.9 MiB on the training device), 30 epochs.
#   python tools/train.py configs/members/avdigits_fusion.py \
#       --work-dir work_dirs/avdigits_fusion
#   python tools/train.py configs/baselines/crd/crd_avdigits_image_mm.py
# The reference release (main-CRD.py) weighs 0.5 CE + 0.5 CRD; set
# model.losses.loss_ce.loss_weight=0.5 model.losses.loss_crd.loss_weight=0.5.
_base_ = [
    '../../_base_/methods/crd.py',
    '../../_base_/models/avdigits_members.py',
    '../../_base_/models/avdigits_teachers.py',
    '../../_base_/datasets/avdigits.py',
    '../../_base_/schedules/baseline_avdigits.py',
    '../../_base_/default_runtime.py'
]
model = dict(
    members=dict(mm={{_base_.fusion_member}}, image={{_base_.image_member}}),
    target='image',
    pretrained=dict(mm={{_base_.mm_teacher}}),
    connectors=dict(embed_s=dict(source='image:fc1'),
                    embed_t=dict(source='mm:fusion.fc1')),
    losses=dict(
        # num_samples: AV-Digits has 5000 samples (dataset indices 0-4999)
        loss_crd=dict(num_samples=5000)),
    loss_forward_mappings=dict(
        loss_ce=dict(logits='image:', labels='labels'),
        loss_crd=dict(pred='embed_s', target='embed_t',
                      sample_ids='sample_ids')))
# connectors are built from a dry forward by the multi-stage loop
train_cfg = dict(_delete_=True, type='MultiStageTrainLoop',
                 stages=dict(train=30), val_interval=1)
