from .masknet_selection_hook import MaskNetSelectionHook
from .routing_stats_hook import RoutingStatsHook
from .stage_checkpoint_hook import StageCheckpointHook

__all__ = ['MaskNetSelectionHook', 'RoutingStatsHook', 'StageCheckpointHook']
