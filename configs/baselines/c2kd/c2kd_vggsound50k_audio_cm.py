# C2KD on VGGSound-50k: audio student, cross-modal (CM) teacher: the visual
# member (the 3-D CNN + MLP, configs/members/vggsound50k_visual.py), trained
# first:
#   python tools/train.py configs/members/vggsound50k_visual.py \
#       --work-dir work_dirs/vggsound50k_visual
# Proxies on the student's fc2 (160-d) and the teacher's fc2 (160-d) (see
# c2kd_vggsound50k_visual_cm.py).
_base_ = ['./c2kd_vggsound50k_visual_cm.py']
model = dict(
    members=dict(_delete_=True, visual={{_base_.visual_member}},
                 audio={{_base_.audio_member}}),
    target='audio',
    pretrained=dict(_delete_=True, visual={{_base_.visual_teacher}}),
    connectors=dict(
        proxy_s=dict(source='audio:fc2', target='audio:'),
        proxy_t=dict(source='visual:fc2', target='visual:')),
    loss_forward_mappings=dict(
        loss_ce=dict(logits='audio:'),
        loss_ce_t=dict(logits='visual:'),
        loss_bd_s=dict(logits=['proxy_s', 'audio:']),
        loss_bd_t=dict(logits=['proxy_t', 'visual:'])),
    stages=dict(train=dict(trainable=['student', 'members.visual',
                                      'connectors.proxy_s',
                                      'connectors.proxy_t'])))
