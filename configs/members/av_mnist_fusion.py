# AV-MNIST, multimodal member of the paper's Table 5, trained alone
# (100 epochs, best val loss): LeNet5 trunk (+) 5-layer 2-D CNN trunk ->
# 298 -> 10.
_base_ = [
    '../_base_/models/av_mnist_members.py', '../_base_/datasets/av_mnist.py',
    '../_base_/schedules/adam_1e-4.py', '../_base_/default_runtime.py'
]
model = dict(type='MemberClassifier', member={{_base_.fusion_member}})
