# MGDFR on AV-MNIST: audio student, cross-modal (CM) teacher: the image member
# (LeNet5, configs/members/av_mnist_image.py), trained first:
#   python tools/train.py configs/members/av_mnist_image.py \
#       --work-dir work_dirs/av_mnist_image
# The teacher's ranked feature: LeNet5 fc1 (84) (see
# mgdfr_av_mnist_image_cm.py).
_base_ = ['./mgdfr_av_mnist_image_cm.py']
model = dict(
    members=dict(_delete_=True, image={{_base_.image_member}},
                 audio={{_base_.audio_member}}),
    target='audio',
    pretrained=dict(_delete_=True, image={{_base_.image_teacher}}),
    teacher='image',
    feature='image:fc1',
    loss_forward_mappings=dict(
        loss_ce=dict(logits='audio:'),
        loss_ce_t=dict(logits='image:'),
        loss_overlap=dict(pred='audio:', target='image:')),
    stages=dict(overlap=dict(trainable=['student', 'members.image'])))
