# Plain supervised audio-only model on AV-Digits (the "w/o KD" baseline).
_base_ = [
    '../_base_/models/avdigits_members.py', '../_base_/datasets/avdigits.py',
    '../_base_/schedules/adam_avdigits.py', '../_base_/default_runtime.py'
]
model = dict(type='MemberClassifier', member={{_base_.audio_member}})
train_dataloader = dict(dataset=dict(modalities=('audio', )))
val_dataloader = dict(dataset=dict(modalities=('audio', )))
test_dataloader = dict(dataset=dict(modalities=('audio', )))
