# Single-stage distillation baselines on AV-Digits (KD, DML, ...): a fair
# budget against MST-Distill, whose student trains in S1 (15 epochs) and S3
# (15 epochs) of configs/_base_/schedules/mst_3stage.py: 30 student epochs,
# Adam 1e-3, batch 64 (the dataset config), as the members' plain runs.
optim_wrapper = dict(type='OptimWrapper', optimizer=dict(type='Adam', lr=1e-3))
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=30, val_interval=1)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
