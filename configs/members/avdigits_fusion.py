# Plain supervised late-fusion (image + audio) model on AV-Digits.
_base_ = [
    '../_base_/models/avdigits_members.py', '../_base_/datasets/avdigits.py',
    '../_base_/schedules/adam_avdigits.py', '../_base_/default_runtime.py'
]
model = dict(type='MemberClassifier', member={{_base_.fusion_member}})
