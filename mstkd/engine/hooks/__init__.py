from .mst_state_hook import MSTStateHook
from .stage_checkpoint_hook import StageCheckpointHook

__all__ = ['MSTStateHook', 'StageCheckpointHook']
