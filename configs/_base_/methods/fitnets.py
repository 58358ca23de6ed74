# FitNets (Romero et al., "FitNets: Hints for Thin Deep Nets", ICLR 2015):
# the teacher frozen, two declared stages (Sec. 2.2-2.3):
#   hint: a regressor r (connectors.hint) on the student's guided layer is
#         trained with the student's layers up to it by the mean squared
#         error (Eq. 3 without its 1/2 and sum) to the teacher's hint layer;
#   kd:   the whole student by CE + T^2 KL to the teacher (KD, T = 4).
# The method's part of configs/baselines/fitnets/fitnets_*.py, which add the
# members, the target, the teacher's run, the regressor (its type and
# layers), the losses' inputs and the two stages' schedule.
model = dict(
    type='ConfigurableDistiller',
    losses=dict(
        loss_hint=dict(type='MSELoss'),
        loss_ce=dict(type='CrossEntropyLoss'),
        loss_kd=dict(type='KLDivergenceLoss', temperature=4.0)),
    stages=dict(
        hint=dict(trainable=['student', 'connectors.hint'],
                  losses=['loss_hint'], title='FitNets hint training'),
        kd=dict(trainable=['student'], losses=['loss_ce', 'loss_kd'],
                title='FitNets knowledge distillation')))
