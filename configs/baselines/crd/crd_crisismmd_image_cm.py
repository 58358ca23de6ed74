# CRD on CrisisMMD-V2: image student, cross-modal (CM) teacher: the text member
# (the text MLP, configs/members/crisismmd_text.py), trained first:
#   python tools/train.py configs/members/crisismmd_text.py \
#       --work-dir work_dirs/crisismmd_text
# Its feature: fc2 (512-d).
_base_ = ['./crd_crisismmd_image_mm.py']
model = dict(
    members=dict(_delete_=True, text={{_base_.text_member}},
                 image={{_base_.image_member}}),
    pretrained=dict(_delete_=True, text={{_base_.text_teacher}}),
    connectors=dict(embed_t=dict(source='text:fc2')))
