# OFA on AV-MNIST: audio student, cross-modal (CM) teacher: the image member
# (LeNet5, configs/members/av_mnist_image.py), trained first:
#   python tools/train.py configs/members/av_mnist_image.py \
#       --work-dir work_dirs/av_mnist_image
# Student branches as in ofa_av_mnist_audio_mm.py.
_base_ = ['./ofa_av_mnist_audio_mm.py']
model = dict(
    members=dict(_delete_=True, image={{_base_.image_member}},
                 audio={{_base_.audio_member}}),
    pretrained=dict(_delete_=True, image={{_base_.image_teacher}}),
    connectors=dict(proj1=dict(target='image:'),
                    proj2=dict(target='image:'),
                    proj3=dict(target='image:')),
    loss_forward_mappings=dict(loss_ofa=dict(target='image:'),
                               loss_ofa_logits=dict(target='image:')))
