# MLLD (Jin et al., "Multi-Level Logit Distillation", CVPR 2023): one stage,
# the teacher frozen,
#   loss = CE(student, y) + sum_T [instance + batch + class level]
# over T in (2, 3, 4, 5, 6) (MultiLevelLogitLoss). The method's part of
# configs/baselines/mlld/mlld_*.py, which add the members, the target, the
# teacher's run and the losses' inputs.
model = dict(
    type='ConfigurableDistiller',
    losses=dict(
        loss_ce=dict(type='CrossEntropyLoss'),
        loss_mlld=dict(type='MultiLevelLogitLoss',
                       temperatures=(2.0, 3.0, 4.0, 5.0, 6.0))))
