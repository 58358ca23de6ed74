# RKD on AV-MNIST: audio student, cross-modal (CM) teacher: the image member
# (LeNet5, configs/members/av_mnist_image.py), trained first:
#   python tools/train.py configs/members/av_mnist_image.py \
#       --work-dir work_dirs/av_mnist_image
# Its feature: fc1 (84-d); the student's fc@input (25,088-d), as in
# rkd_av_mnist_audio_mm.py.
_base_ = ['./rkd_av_mnist_audio_mm.py']
model = dict(
    members=dict(_delete_=True, image={{_base_.image_member}},
                 audio={{_base_.audio_member}}),
    pretrained=dict(_delete_=True, image={{_base_.image_teacher}}),
    loss_forward_mappings=dict(loss_rkd=dict(target='image:fc1')))
