# C2KD (Huo et al., "C2KD: Bridging the Modality Gap for Cross-Modal Knowledge
# Distillation", CVPR 2024): a cross-modal (CM) teacher that keeps training,
# on the fly, with the student; one stage training the student, the teacher
# and both proxies (connectors proxy_s, proxy_t: ProxyHead,
# Linear-BN-LeakyReLU-Linear) on a student and a teacher feature:
#   loss = CE(student) + CE(teacher)
#        + [KL(t || proxy_t) + KL(proxy_t || t)]   (each side detached)
#        + [KL(s || proxy_s) + KL(proxy_s || s)]
#        + OFSD: non-target-class KL between the proxies, both ways, on
#          the samples whose proxies' Kendall tau > 0
# T = 1, all weights 1 (the reference release, main-C2KD.py). The method's
# part of configs/baselines/c2kd/c2kd_*.py, which add the members, the
# target, the teacher's run, the proxies' features, the losses' inputs and
# the stage's trainable parts (the teacher member among them).
model = dict(
    type='ConfigurableDistiller',
    losses=dict(
        loss_ce=dict(type='CrossEntropyLoss'),
        loss_ce_t=dict(type='CrossEntropyLoss'),
        loss_bd_s=dict(type='MutualKLLoss', temperature=1.0, detach=True),
        loss_bd_t=dict(type='MutualKLLoss', temperature=1.0, detach=True),
        loss_ofsd=dict(type='C2KDLoss', threshold=0.0, temperature=1.0,
                       target='exclude', rank_on='all')),
    stages=dict(
        train=dict(title='C2KD on-the-fly bidirectional distillation')))
