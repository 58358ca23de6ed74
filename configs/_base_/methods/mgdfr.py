# MGDFR (Xue et al., "The Modality Focusing Hypothesis: Towards Understanding
# Crossmodal Knowledge Distillation", ICLR 2023, Algorithm 1): a cross-modal
# (CM) teacher, two declared stages:
#   overlap: teacher + student trained jointly: CE(t) + CE(s)
#            + MSE(z_t, z_s) (the teacher starts from its member run and
#            trains here);
#   kd:      at its start the channels of the teacher's ranked feature
#            (model.feature) are ranked by permutation saliency (MSE of the
#            permuted teacher's logits to the student's, 10 permutations,
#            the whole training set), the top 25% kept as modality-general;
#            the student is re-initialised and trained by CE + T^2 KL
#            (T = 4) to the frozen teacher whose other channels are set to
#            their batch mean.
# The method's part of configs/baselines/mgdfr/mgdfr_*.py, which add the
# members, the target, the teacher (its member, run and ranked feature), the
# teacher member trained in the overlap stage, the losses' inputs and the two
# stages' schedule (the student is selected in the kd stage).
model = dict(
    type='MGDFRDistiller',
    keep_ratio=0.25,
    num_permutations=10,
    saliency_stage='kd',
    reinit_student=True,
    losses=dict(
        loss_ce=dict(type='CrossEntropyLoss'),
        loss_ce_t=dict(type='CrossEntropyLoss'),
        loss_overlap=dict(type='MSELoss', detach_target=False),
        loss_kd=dict(type='KLDivergenceLoss', temperature=4.0)),
    stages=dict(
        overlap=dict(losses=['loss_ce', 'loss_ce_t', 'loss_overlap'],
                     title='MGDFR teacher-student overlap training'),
        kd=dict(trainable=['student'], losses=['loss_ce', 'loss_kd'],
                title='MGDFR distillation on modality-general features')))
