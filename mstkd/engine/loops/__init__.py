from .mst_distill_loop import MSTDistillLoop

__all__ = ['MSTDistillLoop']
