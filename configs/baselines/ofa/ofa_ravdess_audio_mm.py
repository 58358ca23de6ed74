# OFA on RAVDESS: audio student (the 1-D CNN + MLP), multimodal (MM) teacher
# (see ofa_ravdess_video_mm.py), trained first:
#   python tools/train.py configs/members/ravdess_fusion.py \
#       --work-dir work_dirs/ravdess_fusion
# Student branches: fc1@input, fc1, fc2.
_base_ = ['./ofa_ravdess_video_mm.py']
model = dict(
    members=dict(_delete_=True, mm={{_base_.fusion_member}},
                 audio={{_base_.audio_member}}),
    target='audio',
    connectors=dict(proj1=dict(source='audio:fc1@input'),
                    proj2=dict(source='audio:fc1'),
                    proj3=dict(source='audio:fc2')),
    loss_forward_mappings=dict(loss_ce=dict(logits='audio:'),
                               loss_ofa_logits=dict(preds='audio:')))
