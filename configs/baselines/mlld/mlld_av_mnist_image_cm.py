# MLLD on AV-MNIST: image student, cross-modal (CM) teacher: the audio member
# (the 3-layer 2-D CNN, configs/members/av_mnist_audio.py), trained first:
#   python tools/train.py configs/members/av_mnist_audio.py \
#       --work-dir work_dirs/av_mnist_audio
_base_ = ['./mlld_av_mnist_image_mm.py']
model = dict(
    members=dict(_delete_=True, audio={{_base_.audio_member}},
                 image={{_base_.image_member}}),
    pretrained=dict(_delete_=True, audio={{_base_.audio_teacher}}),
    loss_forward_mappings=dict(loss_mlld=dict(target='audio:')))
