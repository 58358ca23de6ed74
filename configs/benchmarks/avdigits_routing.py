# Routing that learns (issue 13) on AV-Digits: the paper's gate (trained by
# the load balance only), mstkd's gate training options, and the two
# controls (mean over every teacher; a uniformly random teacher), with the
# routing entropy and the share of samples routed to the lowest-CE teacher
# at the last S3 epoch. Every option row is forked after S2 (fork='s2'):
# per seed, S1 and S2 are trained once (by the paper row) and every row's
# S3 starts from that same s2_end.pth, so the rows differ in routing only.
#   python tools/analysis_tools/benchmark.py configs/benchmarks/avdigits_routing.py \
#       --work-dir work_dirs/routing_avdigits --jobs 2
_base_ = ['./_base_/avdigits_mst.py']
title = 'AV-Digits: S3 routing options (MST-Distill, test OA)'
average_column = False
scalars = ['routing/entropy', 'routing/best_ce_share']
rows = [
    dict(paradigm='paper', method='GateNet top-1 (Eq. 13-17)', fork='s2'),
    dict(paradigm='control', method='mean over all teachers',
         options=['model.routing=mean'], fork='s2'),
    dict(paradigm='control', method='random teacher',
         options=['model.routing=random'], fork='s2'),
    dict(paradigm='mstkd', method='soft-weighted KD (all teachers)',
         options=['model.routing=soft'], fork='s2'),
    dict(paradigm='mstkd', method='Gumbel top-1 (straight-through)',
         options=['model.routing=gumbel'], fork='s2'),
    dict(paradigm='mstkd', method='top-1 + teacher-quality target (CE)',
         options=['model.gate_target=ce'], fork='s2'),
]
