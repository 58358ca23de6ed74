# CrisisMMD-V2, text member of the paper's Table 5 (MLP), trained
# alone: the "w/o KD" baseline of Table 1 (100 epochs, best val loss).
_base_ = [
    '../_base_/models/crisismmd_members.py', '../_base_/datasets/crisismmd.py',
    '../_base_/schedules/adam_1e-4.py', '../_base_/default_runtime.py'
]
model = dict(type='MemberClassifier', member={{_base_.text_member}})
# The reference protocol's learning rate on CrisisMMD-V2.
optim_wrapper = dict(optimizer=dict(lr=5e-3))
train_dataloader = dict(dataset=dict(modalities=('text', )))
val_dataloader = dict(dataset=dict(modalities=('text', )))
test_dataloader = dict(dataset=dict(modalities=('text', )))
