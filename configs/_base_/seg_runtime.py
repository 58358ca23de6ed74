# Runtime additions for segmentation configs: best checkpoints by
# validation loss (CE over non-void pixels: the paper's selection) and mIoU,
# and mmseg's visualisation hook (off; `tools/test.py --show-dir` turns it
# on and draws every test image).
_base_ = ['./default_runtime.py']
default_hooks = dict(
    checkpoint=dict(save_best=['CE', 'mIoU'], rule=['less', 'greater']),
    visualization=dict(type='mmseg.SegVisualizationHook', draw=False))
vis_backends = [dict(type='LocalVisBackend')]
visualizer = dict(
    type='mmseg.SegLocalVisualizer', vis_backends=vis_backends,
    name='visualizer')
