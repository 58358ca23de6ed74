"""What every distiller uses: tasks, recorders and layer paths."""
from .layer_paths import (LayerPathError, infer_feature_shapes,
                          resolve_layer, valid_layer_paths,
                          validate_layer_paths)
from .recorder import MemberRecorder, parse_record_key, record_key
from .tasks import ClsTask, SegTask, pack_predictions

__all__ = [
    'LayerPathError', 'infer_feature_shapes', 'resolve_layer',
    'valid_layer_paths', 'validate_layer_paths', 'MemberRecorder',
    'parse_record_key', 'record_key', 'ClsTask', 'SegTask',
    'pack_predictions'
]
