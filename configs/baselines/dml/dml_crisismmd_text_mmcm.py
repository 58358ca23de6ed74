# DML on CrisisMMD-V2, MM+CM: the text peer is the deployed student (see
# dml_crisismmd_image_mmcm.py; the training is the same, the selection and test
# use the text peer). No teacher to train first:
#   python tools/train.py configs/baselines/dml/dml_crisismmd_text_mmcm.py
_base_ = ['./dml_crisismmd_image_mmcm.py']
model = dict(target='text')
