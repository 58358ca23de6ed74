# Routing that learns (issue 13) on AV-Digits: the paper's gate (trained by
# the load balance only), mstkd's gate training options, and the two
# controls (mean over every teacher; a uniformly random teacher), with the
# routing entropy and the share of samples routed to the lowest-CE teacher
# at the last S3 epoch. Every option row is forked after S2 (fork='s2'):
# per seed, S1 and S2 are trained once (by the paper row) and every row's
# S3 starts from that same s2_end.pth, so the rows differ in routing only.
#   python tools/analysis_tools/benchmark.py configs/benchmarks/avdigits_routing.py \
#       --work-dir work_dirs/routing_avdigits --jobs 2
title = 'AV-Digits: S3 routing options (MST-Distill, test OA)'
columns = dict(image='image student', audio='audio student')
seeds = [0, 1, 2, 3, 4]
epochs = 30
metrics = ['OA']
scalars = ['routing/entropy', 'routing/best_ce_share']


def mst(*options):
    return dict(
        image=dict(config='configs/mst/mst_avdigits_image.py',
                   options=list(options), fork='s2'),
        audio=dict(config='configs/mst/mst_avdigits_audio.py',
                   options=list(options), fork='s2'))


rows = [
    dict(paradigm='paper', method='GateNet top-1 (Eq. 13-17)',
         cells=mst()),
    dict(paradigm='control', method='mean over all teachers',
         cells=mst('model.routing=mean')),
    dict(paradigm='control', method='random teacher',
         cells=mst('model.routing=random')),
    dict(paradigm='mstkd', method='soft-weighted KD (all teachers)',
         cells=mst('model.routing=soft')),
    dict(paradigm='mstkd', method='Gumbel top-1 (straight-through)',
         cells=mst('model.routing=gumbel')),
    dict(paradigm='mstkd', method='top-1 + teacher-quality target (CE)',
         cells=mst('model.gate_target=ce')),
]
