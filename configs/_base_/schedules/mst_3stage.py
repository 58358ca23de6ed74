# The three stages of MST-Distill (S1 -> S2 -> S3), one optimizer each.
# The paper runs S3 for 100 epochs and keeps S1/S2 epochs equal across
# multi-stage methods; these AV-Digits settings are sized for a CPU: S1 and
# S3 as long as the members' plain training (15 epochs), S2 2 epochs (its
# full-projector MaskNets cost ~20x a student epoch on a CPU).
train_cfg = dict(
    type='MSTDistillLoop', s1_epochs=15, s2_epochs=2, s3_epochs=15,
    val_interval=1)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')

optim_wrapper = dict(
    constructor='StageOptimWrapperConstructor',
    s1=dict(type='OptimWrapper', optimizer=dict(type='Adam', lr=1e-3)),
    s2=dict(type='OptimWrapper', optimizer=dict(type='Adam', lr=1e-3)),
    s3=dict(type='OptimWrapper', optimizer=dict(type='Adam', lr=1e-3)))
