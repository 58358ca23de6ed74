# Table 1 layout on AV-Digits: every method, both target modalities, the
# same student budget (`epochs`, split over a method's stages: see
# mstkd/apis/benchmark.py), 5 seeds, both model selections.
#   python tools/analysis_tools/benchmark.py configs/benchmarks/avdigits_table1.py \
#       --work-dir work_dirs/benchmark_avdigits --jobs 2
# (`make benchmark` runs it with a short schedule, --epochs 10.)
title = 'AV-Digits: the paper\'s Table 1 layout (test OA / AA)'
columns = dict(image='AV-Digits image', audio='AV-Digits audio')
seeds = [0, 1, 2, 3, 4]
epochs = 30  # = the MST student's S1 (15) + S3 (15)
metrics = ['OA', 'AA']
B = 'configs/baselines'


def both(method, tconfig):
    return dict(image=f'{B}/{method}/{method}_avdigits_image_{tconfig}.py',
                audio=f'{B}/{method}/{method}_avdigits_audio_{tconfig}.py')


rows = [
    dict(paradigm='—', method='w/o KD', tconfig='—', baseline=True,
         cells=dict(image='configs/members/avdigits_image.py',
                    audio='configs/members/avdigits_audio.py')),
    dict(paradigm='Response-Based', method='KD', tconfig='MM',
         cells=both('kd', 'mm')),
    dict(paradigm='Response-Based', method='KD', tconfig='CM',
         cells=both('kd', 'cm')),
    dict(paradigm='Response-Based', method='MLLD', tconfig='MM',
         cells=both('mlld', 'mm')),
    dict(paradigm='Response-Based', method='MLLD', tconfig='CM',
         cells=both('mlld', 'cm')),
    dict(paradigm='Feature-Based', method='FitNets', tconfig='MM',
         cells=both('fitnets', 'mm')),
    dict(paradigm='Feature-Based', method='FitNets', tconfig='CM',
         cells=both('fitnets', 'cm')),
    dict(paradigm='Feature-Based', method='OFA', tconfig='MM',
         cells=both('ofa', 'mm')),
    dict(paradigm='Feature-Based', method='OFA', tconfig='CM',
         cells=both('ofa', 'cm')),
    dict(paradigm='Relation-Based', method='RKD', tconfig='MM',
         cells=both('rkd', 'mm')),
    dict(paradigm='Relation-Based', method='RKD', tconfig='CM',
         cells=both('rkd', 'cm')),
    dict(paradigm='Relation-Based', method='CRD', tconfig='MM',
         cells=both('crd', 'mm')),
    dict(paradigm='Relation-Based', method='CRD', tconfig='CM',
         cells=both('crd', 'cm')),
    dict(paradigm='Mutual-Learning', method='DML', tconfig='MM+CM',
         cells=both('dml', 'mmcm')),
    # MGDFR ranks the teacher's channels on the first 8 training batches
    # (512 samples) instead of the whole set: ~10x cheaper, same budget
    dict(paradigm='Cross-Modal', method='MGDFR', tconfig='CM',
         cells={c: dict(config=f'{B}/mgdfr/mgdfr_avdigits_{c}_cm.py',
                        options=['model.max_saliency_batches=8'])
                for c in ('image', 'audio')}),
    dict(paradigm='Cross-Modal', method='C2KD', tconfig='CM',
         cells=both('c2kd', 'cm')),
    dict(paradigm='Cross-Modal', method='MST-Distill', tconfig='MM+CM',
         cells=dict(image='configs/mst/mst_avdigits_image.py',
                    audio='configs/mst/mst_avdigits_audio.py')),
]
