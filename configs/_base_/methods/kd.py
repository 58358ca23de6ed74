# KD (Hinton et al., "Distilling the Knowledge in a Neural Network", 2015,
# Eq. 2 with the T^2 scaling of Sec. 2): one stage, the teacher frozen (the
# KL detaches its target),
#   loss = CE(student, y)
#        + T^2 KL(softmax(teacher / T) || softmax(student / T))
# with T = 4. The method's part of configs/baselines/kd/kd_*.py, which add
# the members, the target, the teacher's run and the losses' inputs.
model = dict(
    type='ConfigurableDistiller',
    losses=dict(
        loss_ce=dict(type='CrossEntropyLoss'),
        loss_kd=dict(type='KLDivergenceLoss', temperature=4.0)))
