# FitNets on RAVDESS: audio student (the 1-D CNN + MLP), multimodal (MM)
# teacher (see fitnets_ravdess_video_mm.py), trained first:
#   python tools/train.py configs/members/ravdess_fusion.py \
#       --work-dir work_dirs/ravdess_fusion
# Guided layer: the student's fc2 (160-d); hint: the teacher's fusion.fc2
# (160-d).
_base_ = ['./fitnets_ravdess_video_mm.py']
model = dict(
    members=dict(_delete_=True, mm={{_base_.fusion_member}},
                 audio={{_base_.audio_member}}),
    target='audio',
    connectors=dict(hint=dict(source='audio:fc2')),
    loss_forward_mappings=dict(
        loss_ce=dict(logits='audio:'),
        loss_kd=dict(pred='audio:')))
