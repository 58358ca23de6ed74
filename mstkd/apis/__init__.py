from .seeds import find_best_checkpoint, format_table, run_seeds, summarize

__all__ = ['find_best_checkpoint', 'format_table', 'run_seeds', 'summarize']
