# VGGSound-50k, visual member of the paper's Table 5 (3-D CNN + MLP), trained
# alone: the "w/o KD" baseline of Table 1 (100 epochs, best val loss).
_base_ = [
    '../_base_/models/vggsound50k_members.py',
    '../_base_/datasets/vggsound50k.py',
    '../_base_/schedules/adam_1e-4.py', '../_base_/default_runtime.py'
]
model = dict(type='MemberClassifier', member={{_base_.visual_member}})
train_dataloader = dict(dataset=dict(modalities=('visual', )))
val_dataloader = dict(dataset=dict(modalities=('visual', )))
test_dataloader = dict(dataset=dict(modalities=('visual', )))
