from .export import extract_student, save_student
from .inference import (class_shares, colorize_label_map, default_palette,
                        inference_model, init_model, is_segmentation_model,
                        load_input, load_nyu_input, save_segmentation_png)
from .seeds import find_best_checkpoint, format_table, run_seeds, summarize

__all__ = [
    'class_shares', 'colorize_label_map', 'default_palette',
    'extract_student', 'find_best_checkpoint', 'format_table',
    'inference_model', 'init_model', 'is_segmentation_model', 'load_input',
    'load_nyu_input', 'run_seeds', 'save_segmentation_png', 'save_student',
    'summarize'
]
