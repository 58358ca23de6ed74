# Table 3 layout on AV-Digits: the three stages of MST-Distill switched
# off and on, settings (a)-(f) and the w/o KD baseline, both students and
# their mean (the paper reports the mean over the modality students).
#   python tools/analysis_tools/benchmark.py \
#       configs/benchmarks/avdigits_table3_ablation.py \
#       --work-dir work_dirs/ablation_avdigits --jobs 2
# S1 off: members trained independently (collaborative='independent');
# S2 off: no MaskNets (use_masknets=False, s2_epochs=0);
# S3 off: mean KD over every teacher instead of the GateNet's routing.
# (e) changes S3 only: it is forked from (f)'s s2_end.pth (same S1/S2).
_base_ = ['./_base_/avdigits_mst.py']
title = 'AV-Digits: the paper\'s Table 3 layout (MST-Distill stages)'
S1_OFF = 'model.collaborative=independent'
S2_OFF = ['model.use_masknets=False', 'train_cfg.s2_epochs=0']
S3_OFF = 'model.routing=mean'
rows = [
    dict(method='baseline (w/o KD)', baseline=True,
         cells=dict(image='configs/members/avdigits_image.py',
                    audio='configs/members/avdigits_audio.py')),
    dict(method='(a) -', options=[S1_OFF, S2_OFF, S3_OFF]),
    dict(method='(b) S3', options=[S1_OFF, S2_OFF]),
    dict(method='(c) S1 + S3', options=[S2_OFF]),
    dict(method='(d) S2 + S3', options=[S1_OFF]),
    dict(method='(e) S1 + S2', options=[S3_OFF], fork='s2'),
    dict(method='(f) S1 + S2 + S3 (default)'),
]
