# Distillation baselines on RAVDESS (paper Table 1) under the paper's
# "identical training conditions" (Sec. 4.1): the members' w/o-KD schedule
# (adam_1e-4.py: Adam 1e-4, 100 epochs), batch 32 (the dataset config), the
# best checkpoint by validation loss. Single-stage methods (KD, MLLD, OFA,
# RKD, CRD, DML, C2KD) train these 100 epochs; the multi-stage ones (FitNets,
# MGDFR) run each sub-stage as long with this optimizer, as MST-Distill's S1
# and S3 (mst_benchmark.py; the paper: "consistent sub-stage epochs").
_base_ = ['./adam_1e-4.py']
