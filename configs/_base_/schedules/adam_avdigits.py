# Plain supervised training on AV-Digits (the members' "w/o KD" runs).
# The paper trains 100 epochs with Adam 1e-4 and batch 512 on 70,000
# AV-MNIST samples; on AV-Digits' 3,000 training samples and a CPU,
# 15 epochs of Adam 1e-3, batch 64, converge (best validation loss is
# reached before the last epoch for the three members).
optim_wrapper = dict(type='OptimWrapper', optimizer=dict(type='Adam', lr=1e-3))
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=15, val_interval=1)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
