# DML on AV-MNIST, MM+CM: the audio peer is the deployed student (see
# dml_av_mnist_image_mmcm.py; the training is the same, the selection and test
# use the audio peer). No teacher to train first:
#   python tools/train.py configs/baselines/dml/dml_av_mnist_audio_mmcm.py
_base_ = ['./dml_av_mnist_image_mmcm.py']
model = dict(target='audio')
