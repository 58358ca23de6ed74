# Plain training of one FuseNet segmentor on NYU-Depth-V2 (the "w/o KD"
# members): Adam, lr 1e-4 (the reference protocol), 100 epochs (the paper's
# single-stage budget), validation every epoch.
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=100, val_interval=1)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
optim_wrapper = dict(
    type='OptimWrapper', optimizer=dict(type='Adam', lr=1e-4))
