from .base_distiller import BaseDistiller
from .configurable_distiller import ConfigurableDistiller
from .mst_distill import MSTDistill, SpecializedTeacher
from .pretrained_members import PretrainedMembers

__all__ = [
    'BaseDistiller', 'ConfigurableDistiller', 'MSTDistill',
    'SpecializedTeacher', 'PretrainedMembers'
]
