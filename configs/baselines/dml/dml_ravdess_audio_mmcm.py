# DML on RAVDESS, MM+CM: the audio peer is the deployed student (see
# dml_ravdess_video_mmcm.py; the training is the same, the selection and test
# use the audio peer). No teacher to train first:
#   python tools/train.py configs/baselines/dml/dml_ravdess_audio_mmcm.py
_base_ = ['./dml_ravdess_video_mmcm.py']
model = dict(target='audio')
