# DML on VGGSound-50k, MM+CM: the audio peer is the deployed student (see
# dml_vggsound50k_visual_mmcm.py; the training is the same, the selection and
# test use the audio peer). No teacher to train first:
#   python tools/train.py configs/baselines/dml/dml_vggsound50k_audio_mmcm.py
_base_ = ['./dml_vggsound50k_visual_mmcm.py']
model = dict(target='audio')
