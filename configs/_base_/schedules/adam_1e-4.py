# Plain supervised training of one member (the paper's "w/o KD" rows):
# Adam, lr 1e-4 (CrisisMMD-V2: 5e-3, set in its configs), 100 epochs, the
# single-stage budget of the paper (Sec. 4.1; also the NYU-Depth-V2
# members). The best checkpoint by validation loss is the model.
optim_wrapper = dict(type='OptimWrapper', optimizer=dict(type='Adam', lr=1e-4))
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=100, val_interval=1)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
