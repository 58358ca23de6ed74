# OFA (Hao et al., "One-for-All: Bridge the Gap Between Heterogeneous
# Architectures in Knowledge Distillation", NeurIPS 2023): one stage, the
# teacher frozen. Student branches are projected to logit space (OFAProjector,
# the release's projectors) and each gets the OFA loss against the teacher's
# logits; as in the authors' code the branches are summed and the student's
# own logits get the same loss (loss_ofa_logits):
#   loss = CE + sum_b OFA(proj_b, teacher) + OFA(student, teacher)
# eps = 1.0 (the authors' default), T = 1. The method's part of
# configs/baselines/ofa/ofa_*.py, which add the members, the target, the
# teacher's run, the branches (connectors) and the losses' inputs.
model = dict(
    type='ConfigurableDistiller',
    losses=dict(
        loss_ce=dict(type='CrossEntropyLoss'),
        loss_ofa=dict(type='OFALoss', eps=1.0, temperature=1.0,
                      reduction='sum'),
        loss_ofa_logits=dict(type='OFALoss', eps=1.0, temperature=1.0)))
