# RKD (Park et al., "Relational Knowledge Distillation", CVPR 2019): one
# stage, the teacher frozen,
#   loss = CE(student, y) + 1 * L_distance + 2 * L_angle
# between a student and a teacher feature (the penultimate ones): relations
# need no common width, so there is no projection (the paper). The method's
# part of configs/baselines/rkd/rkd_*.py, which add the members, the target,
# the teacher's run and the losses' inputs (the features).
model = dict(
    type='ConfigurableDistiller',
    losses=dict(
        loss_ce=dict(type='CrossEntropyLoss'),
        loss_rkd=dict(type='RKDLoss', distance_weight=1.0, angle_weight=2.0)))
