# AV-MNIST, image member of the paper's Table 5 (LeNet5), trained
# alone: the "w/o KD" baseline of Table 1 (100 epochs, best val loss).
_base_ = [
    '../_base_/models/av_mnist_members.py', '../_base_/datasets/av_mnist.py',
    '../_base_/schedules/adam_1e-4.py', '../_base_/default_runtime.py'
]
model = dict(type='MemberClassifier', member={{_base_.image_member}})
train_dataloader = dict(dataset=dict(modalities=('image', )))
val_dataloader = dict(dataset=dict(modalities=('image', )))
test_dataloader = dict(dataset=dict(modalities=('image', )))
