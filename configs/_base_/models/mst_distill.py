# MST-Distill (paper Sec. 3) with the paper's settings. A dataset config adds
# the members, the target and the teacher pool (teacher member -> MaskNet
# layer paths), e.g. configs/mst/mst_avdigits_image.py:
#   3-head MaskNets with the full projector (Eq. 6), a ReLU GateNet
#   (Eq. 11-13), top-1 routing, T = 4, KL load balance (Eq. 17), lambda1
#   halved every 30 S3 epochs and lambda2 -10% every 10 (Eq. 18), joint S1
#   without detach (Eq. 2), the paper's arithmetic (reference_compat=False).
model = dict(
    type='MSTDistill',
    k=1,
    temperature=4.0,
    scale_by_t2=True,
    masknet=dict(num_heads=3, projector='full'),
    gate=dict(type='GateNet', act='relu'),
    lambda1=dict(initial=1.0, step=30, factor=0.5),
    lambda2=dict(initial=1.0, step=10, factor=0.9),
    lb_mode='kl',
    collaborative='joint',
    routing='topk',
    use_masknets=True,
    reference_compat=False,
    cache_teacher_outputs=True,
    # S2 hook-point cache: the frozen teachers' values at the hooked layers
    # once per training sample; past the RAM budget, files (read with file
    # I/O) in <work_dir>/s2_cache (deleted when S2 ends). float16 halves the
    # size; configs/mst/lowmem/ keeps it all in files (ram_budget_gb=0).
    s2_cache=dict(dtype='float32', ram_budget_gb=4.0))

# The method's side work: every MaskNet's best S2 state by validation KL
# (restored for S3) and the routing statistics of Fig. 4 (per S3 epoch).
custom_hooks = [
    dict(type='MaskNetSelectionHook'),
    dict(type='RoutingStatsHook')
]
