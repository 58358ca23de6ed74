from .export import extract_student, save_student
from .inference import inference_model, init_model, load_input
from .seeds import find_best_checkpoint, format_table, run_seeds, summarize

__all__ = [
    'extract_student', 'find_best_checkpoint', 'format_table',
    'inference_model', 'init_model', 'load_input', 'run_seeds',
    'save_student', 'summarize'
]
