from .setup_env import register_all_modules, setup_multi_processes

__all__ = ['register_all_modules', 'setup_multi_processes']
