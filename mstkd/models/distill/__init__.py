"""MST-Distill building blocks: MaskNet, GateNet, losses and mask hooks."""
from .gatenet import DenseGateNet, GateNet
from .losses import (CollaborativeLoss, DKDLoss, KLDivergenceLoss,
                     LambdaSchedule, LoadBalanceLoss, SpecializedTeacherLoss,
                     collaborative_loss, dkd_loss, kl_divergence,
                     load_balance_loss, mean_teacher_loss, mst_stage3_loss,
                     specialized_teacher_loss, step_decay)
from .mask_hooks import (ChunkedMaskHook, LayerPathError, MaskHook,
                         attach_masknet, batched_specialized_forward,
                         chunked_masked, infer_feature_shapes, masked,
                         resolve_layer, unwrap_model, validate_layer_paths)
from .masknet import MaskNet, default_hidden_dim
from .dense_mst_distill import DenseMSTDistill
from .mst_distill import MSTDistill

__all__ = [
    'MSTDistill', 'DenseMSTDistill', 'MaskNet', 'default_hidden_dim',
    'GateNet', 'DenseGateNet',
    'kl_divergence', 'collaborative_loss', 'specialized_teacher_loss',
    'dkd_loss', 'mean_teacher_loss', 'load_balance_loss', 'step_decay',
    'mst_stage3_loss', 'LambdaSchedule', 'KLDivergenceLoss',
    'CollaborativeLoss', 'SpecializedTeacherLoss', 'DKDLoss',
    'LoadBalanceLoss', 'LayerPathError', 'unwrap_model', 'resolve_layer',
    'validate_layer_paths', 'infer_feature_shapes', 'MaskHook',
    'ChunkedMaskHook', 'attach_masknet', 'masked', 'chunked_masked',
    'batched_specialized_forward'
]
