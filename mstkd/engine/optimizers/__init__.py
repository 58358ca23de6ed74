from .cpu_autocast import CPUAutocastOptimWrapper, cpu_bf16_supported
from .stage_constructor import StageOptimWrapperConstructor

__all__ = [
    'CPUAutocastOptimWrapper', 'StageOptimWrapperConstructor',
    'cpu_bf16_supported'
]
