# C2KD on AV-MNIST: audio student, cross-modal (CM) teacher: the image member
# (LeNet5, configs/members/av_mnist_image.py), trained first:
#   python tools/train.py configs/members/av_mnist_image.py \
#       --work-dir work_dirs/av_mnist_image
# Proxies on the student's conv3 map (128 channels, averaged by the proxy) and
# the teacher's LeNet5 fc1 (84-d) (see c2kd_av_mnist_image_cm.py).
_base_ = ['./c2kd_av_mnist_image_cm.py']
model = dict(
    members=dict(_delete_=True, image={{_base_.image_member}},
                 audio={{_base_.audio_member}}),
    target='audio',
    pretrained=dict(_delete_=True, image={{_base_.image_teacher}}),
    connectors=dict(
        proxy_s=dict(source='audio:conv3', target='audio:'),
        proxy_t=dict(source='image:fc1', target='image:')),
    loss_forward_mappings=dict(
        loss_ce=dict(logits='audio:'),
        loss_ce_t=dict(logits='image:'),
        loss_bd_s=dict(logits=['proxy_s', 'audio:']),
        loss_bd_t=dict(logits=['proxy_t', 'image:'])),
    stages=dict(train=dict(trainable=['student', 'members.image',
                                      'connectors.proxy_s',
                                      'connectors.proxy_t'])))
