"""Figures of a run: routing statistics (Fig. 4), training curves and
confusion matrices (see :mod:`mstkd.visualization.plots`), t-SNE of a
teacher feature before/after its MaskNet (Fig. 10, :mod:`.tsne`)."""
from .plots import (confusion_counts, curves_data, load_scalars,
                    plot_confusion, plot_curves, plot_routing, routing_data,
                    save_figure, stage_plan, teacher_kind, write_json)
from .tsne import embed, exact_tsne, knn_accuracy, plot_tsne_panels

__all__ = [
    'confusion_counts', 'curves_data', 'load_scalars', 'plot_confusion',
    'plot_curves', 'plot_routing', 'routing_data', 'save_figure',
    'stage_plan', 'teacher_kind', 'write_json', 'embed', 'exact_tsne',
    'knn_accuracy', 'plot_tsne_panels'
]
