# The three stages of MST-Distill on NYU-Depth-V2: Adam, lr 1e-4 (reference
# protocol), S3 100 epochs (paper). S1 and S2 run 100 epochs each, the
# release's defaults (--epochs_s1 / --epochs_s2) and the same sub-stage
# budget as the classification benchmarks (_base_/schedules/
# mst_benchmark.py); S1 then equals a member's plain 100-epoch training.
train_cfg = dict(
    type='MSTDistillLoop', s1_epochs=100, s2_epochs=100, s3_epochs=100,
    val_interval=1)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
optim_wrapper = dict(
    constructor='MSTOptimWrapperConstructor',
    s1=dict(type='OptimWrapper', optimizer=dict(type='Adam', lr=1e-4)),
    s2=dict(type='OptimWrapper', optimizer=dict(type='Adam', lr=1e-4)),
    s3=dict(type='OptimWrapper', optimizer=dict(type='Adam', lr=1e-4)))
