from .mst_distill_loop import MSTDistillLoop
from .multi_stage_loop import MultiStageTrainLoop

__all__ = ['MSTDistillLoop', 'MultiStageTrainLoop']
