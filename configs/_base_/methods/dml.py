# DML (Zhang et al., "Deep Mutual Learning", CVPR 2018) with the paper's
# MM+CM teacher configuration: the student, the multimodal net and the other
# modality's net are peers trained together from scratch (no teacher run),
# in one stage, each with
#   CE + 1 / (K - 1) sum_{l != k} KL(p_l || p_k)        (DML Eq. 10, K = 3)
# on the peers' detached predictions (no temperature: T = 1; MutualKLLoss
# with peer_mean). The method's part of configs/baselines/dml/dml_*.py, which
# add the peers, the deployed student (target), the losses (named after the
# peers: the per-peer CE terms, then loss_mutual, in summation order) and
# their inputs.
model = dict(
    type='ConfigurableDistiller',
    stages=dict(train=dict(trainable=['members'], title='DML')))
