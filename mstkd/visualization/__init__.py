"""Figures of a run: routing statistics (Fig. 4), training curves and
confusion matrices (see :mod:`mstkd.visualization.plots`)."""
from .plots import (confusion_counts, curves_data, load_scalars,
                    plot_confusion, plot_curves, plot_routing, routing_data,
                    save_figure, stage_plan, teacher_kind, write_json)

__all__ = [
    'confusion_counts', 'curves_data', 'load_scalars', 'plot_confusion',
    'plot_curves', 'plot_routing', 'routing_data', 'save_figure',
    'stage_plan', 'teacher_kind', 'write_json'
]
