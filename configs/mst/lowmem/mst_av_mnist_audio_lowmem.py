# MST-Distill on AV-MNIST, audio student, within about 4 GB of memory on a
# CPU at the paper's batch of 512: the objective of ../mst_av_mnist_audio.py
# computed with the options of ../../_base_/lowmem.py (measured in
# docs/performance.md, table 0).
_base_ = ['../mst_av_mnist_audio.py', '../../_base_/lowmem.py']
model = {{_base_.lowmem_model}}
optim_wrapper = {{_base_.lowmem_optim_wrapper}}
