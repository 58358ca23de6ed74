# CRD on CrisisMMD-V2: text student, cross-modal (CM) teacher: the image member
# (the image MLP, configs/members/crisismmd_image.py), trained first:
#   python tools/train.py configs/members/crisismmd_image.py \
#       --work-dir work_dirs/crisismmd_image
# Its feature: fc2 (512-d).
_base_ = ['./crd_crisismmd_text_mm.py']
model = dict(
    members=dict(_delete_=True, image={{_base_.image_member}},
                 text={{_base_.text_member}}),
    pretrained=dict(_delete_=True, image={{_base_.image_teacher}}),
    connectors=dict(embed_t=dict(source='image:fc2')))
