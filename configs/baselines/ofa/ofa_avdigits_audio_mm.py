# OFA on AV-Digits: audio student (branches conv1, conv2, conv3 of the CNN,
# as the release's 3-layer CNN student), multimodal (MM) teacher.
_base_ = ['./ofa_avdigits_image_mm.py']
model = dict(
    members=dict(_delete_=True, mm={{_base_.fusion_member}},
                 audio={{_base_.audio_member}}),
    target='audio',
    connectors=dict(proj1=dict(source='audio:conv1'),
                    proj2=dict(source='audio:conv2'),
                    proj3=dict(source='audio:conv3')),
    loss_forward_mappings=dict(loss_ce=dict(logits='audio:'),
                               loss_ofa_logits=dict(preds='audio:')))
