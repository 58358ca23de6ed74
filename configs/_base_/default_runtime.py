default_scope = 'mstkd'

default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=20),
    param_scheduler=dict(type='ParamSchedulerHook'),
    # Every epoch's checkpoint is kept until the next one; the best model is
    # kept by validation loss (CE: the paper's selection) and by OA. Written
    # to a temporary name and renamed, after the epoch's validation, with the
    # RNG states (mstkd/engine/hooks/stage_checkpoint_hook.py): a kill never
    # loses the resume point and resume is exact. best_stages=None: the best
    # of every epoch (MST configs restrict it to S3). slim=True: no optimizer
    # state of finished stages, no weights again that an earlier
    # {stage}_end.pth holds (frozen for the rest of the run; filled back on
    # load), best checkpoints hold the student (and what its stage trains)
    # only; slim=False writes every checkpoint whole.
    checkpoint=dict(
        type='StageCheckpointHook',
        best_stages=None,
        slim=True,
        interval=1,
        max_keep_ckpts=1,
        save_best=['CE', 'OA'],
        rule=['less', 'greater']),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    # A NaN/Inf loss term or trainable parameter stops the run at once
    # (before that epoch's checkpoint): mstkd/engine/hooks/nan_guard_hook.py
    nan_guard=dict(type='NaNGuardHook'),
)

env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    # tools/train.py switches to gloo when CUDA is unavailable.
    dist_cfg=dict(backend='nccl'),
)

vis_backends = [dict(type='LocalVisBackend')]
visualizer = dict(
    type='Visualizer', vis_backends=vis_backends, name='visualizer')
# each training line names its stage, shows that stage's learning rate and,
# in MST-Distill's S3, lambda1 / lambda2 (mstkd/engine/runner/log_processor.py)
log_processor = dict(type='StageLogProcessor', by_epoch=True, window_size=20)
log_level = 'INFO'
load_from = None
resume = False
randomness = dict(seed=0)
