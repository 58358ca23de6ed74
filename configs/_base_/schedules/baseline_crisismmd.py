# Distillation baselines on CrisisMMD-V2 (paper Table 1) under the paper's
# "identical training conditions" (Sec. 4.1): the members' w/o-KD schedule
# (adam_1e-4.py: 100 epochs) with the reference protocol's learning rate on
# CrisisMMD-V2 (Adam 5e-3, as configs/members/crisismmd_*.py), batch 512 (the
# dataset config), the best checkpoint by validation loss. Single-stage
# methods (KD, MLLD, OFA, RKD, CRD, DML, C2KD) train these 100 epochs; the
# multi-stage ones (FitNets, MGDFR) run each sub-stage as long with this
# optimizer, as MST-Distill's S1 and S3 (mst_benchmark.py; the paper:
# "consistent sub-stage epochs").
_base_ = ['./adam_1e-4.py']
optim_wrapper = dict(optimizer=dict(lr=5e-3))
