# KD on AV-MNIST: audio student, cross-modal (CM) teacher: the image member
# (LeNet5, configs/members/av_mnist_image.py), trained first:
#   python tools/train.py configs/members/av_mnist_image.py \
#       --work-dir work_dirs/av_mnist_image
_base_ = ['./kd_av_mnist_image_mm.py']
model = dict(
    members=dict(_delete_=True, image={{_base_.image_member}},
                 audio={{_base_.audio_member}}),
    target='audio',
    pretrained=dict(_delete_=True, image={{_base_.image_teacher}}),
    loss_forward_mappings=dict(
        loss_ce=dict(logits='audio:'),
        loss_kd=dict(pred='audio:', target='image:')))
