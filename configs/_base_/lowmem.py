# The memory and speed options of configs/mst/lowmem/: the same objective
# (same functions and gradients up to float rounding) within about 4 GB on
# a CPU at batch 512 (docs/performance.md, table 0). A config merges them
# into its own:  model = {{_base_.lowmem_model}}
#                optim_wrapper = {{_base_.lowmem_optim_wrapper}}
# - the MaskNet readout folded into the attention (MaskNet.folded_readout:
#   about 0.65x the MaskNets' time, same parameters and checkpoints),
# - S1 and S2 in micro-batches of 64 (gradient accumulation; exact for
#   members without BatchNorm; S3 stays whole-batch because its load
#   balance is a batch statistic),
# - S3's frozen teachers in chunks of 64 (no autograd: the same logits),
# - the S2 hook-point cache in files (ram_budget_gb=0: read with file I/O,
#   outside the process's memory),
# - torch's fused Adam in S2 (no full-size temporaries in the step of a
#   106 M-weight projector).
lowmem_model = dict(
    masknet=dict(folded_readout=True),
    micro_batch=dict(s1=64, s2=64),
    frozen_teacher_chunk=64,
    s2_cache=dict(ram_budget_gb=0.0))
lowmem_optim_wrapper = dict(s2=dict(optimizer=dict(fused=True)))
