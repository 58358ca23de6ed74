from .stage_checkpoint_hook import StageCheckpointHook

__all__ = ['StageCheckpointHook']
