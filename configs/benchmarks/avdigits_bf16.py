# CPU bfloat16 autocast (tools/train.py --amp on a CPU with native bf16)
# against float32 on AV-Digits: does bf16 cost accuracy? (issue 15)
#   python tools/analysis_tools/benchmark.py \
#       configs/benchmarks/avdigits_bf16.py \
#       --work-dir work_dirs/bf16_avdigits --epochs 10 --jobs 2
# Every stage's optimizer wrapper becomes CPUAutocastOptimWrapper (what
# --amp does on a CPU): the forward under torch.autocast('cpu', bfloat16),
# weights, gradients and Adam state in float32. The "S2 only" row is S2,
# where the time goes (a cached S2 epoch 0.62x in bf16, docs/performance.md),
# forked from the float32 row's s1_end.pth: the same S1, S3 in float32.
# The float32 row is the default MST run (row (f) of
# avdigits_table3_ablation.py: the same runs in the same --work-dir).
_base_ = ['./_base_/avdigits_mst.py']
title = 'AV-Digits: CPU bfloat16 autocast against float32 (MST-Distill)'


def bf16(*stages):
    return [o for s in stages for o in (
        f'optim_wrapper.{s}.type=CPUAutocastOptimWrapper',
        f'optim_wrapper.{s}.dtype=bfloat16')]


rows = [
    dict(method='float32 (default)'),
    dict(method='bf16 autocast, every stage', options=bf16('s1', 's2', 's3')),
    dict(method='bf16 autocast, S2 only', options=bf16('s2'), fork='s1'),
]
