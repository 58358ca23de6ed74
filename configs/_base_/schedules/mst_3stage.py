# The three stages of MST-Distill (S1 -> S2 -> S3), one optimizer each.
# The paper trains S3 for 100 epochs and keeps the sub-stage epochs of S1/S2
# equal across methods; the AV-Digits configs shorten every stage for CPU.
train_cfg = dict(
    type='MSTDistillLoop', s1_epochs=10, s2_epochs=5, s3_epochs=20,
    val_interval=1)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')

optim_wrapper = dict(
    constructor='MSTOptimWrapperConstructor',
    s1=dict(type='OptimWrapper', optimizer=dict(type='Adam', lr=1e-3)),
    s2=dict(type='OptimWrapper', optimizer=dict(type='Adam', lr=1e-3)),
    s3=dict(type='OptimWrapper', optimizer=dict(type='Adam', lr=1e-3)))
