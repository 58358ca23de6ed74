# Table 2 layout on NYU-Depth-V2: the segmentation baselines (KD, FitNets,
# DML, MGDFR, C2KD) and MST-Distill for the RGB and the depth student, test
# mIoU / OA / AA, 5 seeds, every run tested with its best checkpoint by
# validation loss (the paper's) and by validation mIoU.
#   python tools/analysis_tools/benchmark.py configs/benchmarks/nyu_table2.py \
#       --work-dir work_dirs/benchmark_nyu --jobs 1
# Needs the dataset under data/nyu_depth_v2 (docs/nyu_depth_v2.md); the
# configs keep their own schedules (epochs = None: 100 per stage, the
# paper's), so this is a GPU job: at 480 x 640 a FuseNet epoch is hours on
# a CPU. Pass --epochs E for a short, equal student budget.
title = "NYU-Depth-V2: the paper's Table 2 layout (test mIoU / OA / AA)"
columns = dict(rgb='NYU-Depth-V2 RGB', depth='NYU-Depth-V2 depth')
seeds = [0, 1, 2, 3, 4]
epochs = None
metrics = ['mIoU', 'OA', 'AA']
selections = ['CE', 'mIoU']
B = 'configs/baselines'


def both(method, tconfig):
    return dict(rgb=f'{B}/{method}/{method}_nyu_rgb_{tconfig}.py',
                depth=f'{B}/{method}/{method}_nyu_depth_{tconfig}.py')


rows = [
    dict(paradigm='—', method='w/o KD', tconfig='—', baseline=True,
         cells=dict(rgb='configs/members/nyu_rgb.py',
                    depth='configs/members/nyu_depth.py')),
    dict(paradigm='Response-Based', method='KD', tconfig='MM',
         cells=both('kd', 'mm')),
    dict(paradigm='Response-Based', method='KD', tconfig='CM',
         cells=both('kd', 'cm')),
    dict(paradigm='Feature-Based', method='FitNets', tconfig='MM',
         cells=both('fitnets', 'mm')),
    dict(paradigm='Feature-Based', method='FitNets', tconfig='CM',
         cells=both('fitnets', 'cm')),
    dict(paradigm='Mutual-Learning', method='DML', tconfig='MM+CM',
         cells=both('dml', 'mmcm')),
    dict(paradigm='Cross-Modal', method='MGDFR', tconfig='CM',
         cells=both('mgdfr', 'cm')),
    dict(paradigm='Cross-Modal', method='C2KD', tconfig='CM',
         cells=both('c2kd', 'cm')),
    dict(paradigm='Cross-Modal', method='MST-Distill', tconfig='MM+CM',
         cells=dict(rgb='configs/mst/mst_nyu_rgb.py',
                    depth='configs/mst/mst_nyu_depth.py')),
]
