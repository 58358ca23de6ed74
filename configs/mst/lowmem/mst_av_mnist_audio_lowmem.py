# MST-Distill on AV-MNIST, audio student, within about 4 GB of memory on a
# CPU at the paper's batch of 512: the objective of ../mst_av_mnist_audio.py
# (same functions and gradients up to float rounding), computed with
# - the MaskNet readout folded into the attention (MaskNet.folded_readout:
#   about 0.65x the MaskNets' time, same parameters and checkpoints),
# - S1 and S2 in micro-batches of 64 (gradient accumulation; exact for
#   these members, which have no BatchNorm; S3 stays whole-batch because
#   its load balance is a batch statistic),
# - S3's frozen teachers in chunks of 64 (no autograd: the same logits),
# - the S2 hook-point cache in files (ram_budget_gb=0: read with file I/O,
#   outside the process's memory),
# - torch's fused Adam in S2 (no full-size temporaries in the step of the
#   106 M-weight projector).
# Measured in docs/performance.md (tools/analysis_tools/benchmark_mst.py).
_base_ = '../mst_av_mnist_audio.py'
model = dict(
    masknet=dict(folded_readout=True),
    micro_batch=dict(s1=64, s2=64),
    frozen_teacher_chunk=64,
    s2_cache=dict(ram_budget_gb=0.0))
optim_wrapper = dict(s2=dict(optimizer=dict(fused=True)))
