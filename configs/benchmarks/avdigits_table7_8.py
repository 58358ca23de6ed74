# Tables 7 and 8 on AV-Digits: the DML-style S1 (detached partners) against
# the joint S1 (the paper's), and the CV load balance against KL(U || C).
#   python tools/analysis_tools/benchmark.py \
#       configs/benchmarks/avdigits_table7_8.py \
#       --work-dir work_dirs/table7_8_avdigits --jobs 2
# The default rows of both tables are one run (shared); the CV row changes
# S3 only and is forked from it after S2 (fork='s2').
_base_ = ['./_base_/avdigits_mst.py']
title = 'AV-Digits: the paper\'s Tables 7 and 8 (S1 and load balance)'
rows = [
    dict(paradigm='Table 7', method='S1 joint, no detach (default)'),
    dict(paradigm='Table 7', method='S1 DML-style (detached partners)',
         options=['model.collaborative=dml']),
    dict(paradigm='Table 8', method='load balance KL(U || C) (default)'),
    dict(paradigm='Table 8', method='load balance CV',
         # S3 only: from the default row's s2_end.pth (the same S1 / S2)
         options=['model.lb_mode=cv'], fork='s2'),
]
