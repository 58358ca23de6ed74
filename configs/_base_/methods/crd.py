# CRD (Tian et al., "Contrastive Representation Distillation", ICLR 2020):
# one stage, the teacher frozen,
#   loss = CE(student, y) + 0.8 * L_CRD
# (beta = 0.8, the authors' CIFAR-100 setting) on 128-d L2-normalised
# embeddings of a student and a teacher feature (trainable linear heads, the
# authors' Embed), NCE with K = 4096 negatives (the MST release) from memory
# banks (2 x num_samples x 128 floats on the training device), T = 0.07,
# momentum 0.5. The method's part of configs/baselines/crd/crd_*.py, which
# add the members, the target, the teacher's run, the embedded features
# (connectors' sources), the dataset's size (num_samples) and the losses'
# inputs.
model = dict(
    type='ConfigurableDistiller',
    connectors=dict(
        embed_s=dict(type='LinearConnector', out_channels=128,
                     l2_normalize=True),
        embed_t=dict(type='LinearConnector', out_channels=128,
                     l2_normalize=True)),
    losses=dict(
        loss_ce=dict(type='CrossEntropyLoss'),
        loss_crd=dict(type='CRDLoss', feat_dim=128, num_negatives=4096,
                      temperature=0.07, momentum=0.5, loss_weight=0.8)))
