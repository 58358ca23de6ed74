# DML on AV-Digits, MM+CM: the audio peer is the deployed student (see
# dml_avdigits_image_mmcm.py; the training is the same, the selection and
# test use the audio peer).
_base_ = ['./dml_avdigits_image_mmcm.py']
model = dict(target='audio')
