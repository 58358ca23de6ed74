from .masknet_selection_hook import MaskNetSelectionHook
from .mgdfr_saliency_hook import MGDFRSaliencyHook
from .nan_guard_hook import NaNGuardHook
from .routing_stats_hook import RoutingStatsHook
from .s2_cache_hook import S2CacheHook
from .stage_checkpoint_hook import StageCheckpointHook
from .stage_eta_hook import StageETAHook

__all__ = [
    'MaskNetSelectionHook', 'MGDFRSaliencyHook', 'NaNGuardHook',
    'RoutingStatsHook', 'S2CacheHook', 'StageCheckpointHook', 'StageETAHook'
]
