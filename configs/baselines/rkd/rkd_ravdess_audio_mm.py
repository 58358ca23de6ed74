# RKD on RAVDESS: audio student (the 1-D CNN + MLP), multimodal (MM) teacher
# (see rkd_ravdess_video_mm.py), trained first:
#   python tools/train.py configs/members/ravdess_fusion.py \
#       --work-dir work_dirs/ravdess_fusion
# The student's feature: fc2 (160-d).
_base_ = ['./rkd_ravdess_video_mm.py']
model = dict(
    members=dict(_delete_=True, mm={{_base_.fusion_member}},
                 audio={{_base_.audio_member}}),
    target='audio',
    loss_forward_mappings=dict(
        loss_ce=dict(logits='audio:'),
        loss_rkd=dict(pred='audio:fc2')))
