"""Config handling shared by tools/train.py and tools/test.py."""
import logging
import os
import os.path as osp
from typing import Optional

import torch
from mmengine.config import Config
from mmengine.logging import print_log

from .config_checks import (check_config, check_model_builds,
                            check_top_level_options)

DATALOADERS = ('train_dataloader', 'val_dataloader', 'test_dataloader')


def load_run_config(config: str,
                    cfg_options: Optional[dict] = None,
                    work_dir: Optional[str] = None,
                    launcher: str = 'none',
                    seed: Optional[int] = None) -> Config:
    """Load a config and apply the command-line overrides.

    Args:
        config (str): Path of the config file.
        cfg_options (dict, optional): ``--cfg-options`` key-value pairs.
        work_dir (str, optional): CLI > config > ``work_dirs/<config name>``.
        launcher (str): 'none', 'pytorch', 'slurm' or 'mpi'.
        seed (int, optional): The run seed: the random seed and, for datasets
            that take one, the split group (protocol: run seed s -> group_s).
    """
    if not osp.isfile(config):
        from .errors import UserInputError
        raise UserInputError(f'Config file not found: {config}')
    cfg = Config.fromfile(config)
    # Typos fail here, in one line, before the Runner dumps the environment.
    check_top_level_options(cfg, cfg_options)
    cfg.launcher = launcher
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    check_config(cfg)
    if work_dir is not None:
        cfg.work_dir = work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs',
                                osp.splitext(osp.basename(config))[0])
    if seed is not None:
        cfg.randomness = dict(cfg.get('randomness', {}), seed=seed)
        for name in DATALOADERS:
            loader = cfg.get(name)
            if loader and 'seed' in loader.get('dataset', {}):
                loader.dataset.seed = seed
    if launcher != 'none' and not torch.cuda.is_available():
        _use_cpu_distributed(cfg, launcher)
    check_model_builds(cfg)
    return cfg


def _use_cpu_distributed(cfg: Config, launcher: str) -> None:
    """Distributed training without CUDA: gloo, and a DDP wrapper that
    accepts CPU modules.

    mmengine's ``init_dist`` calls ``torch.cuda.set_device`` unconditionally,
    so under torchrun the process group is initialised here (from the
    environment torchrun sets); the Runner then finds it initialised.
    """
    env_cfg = cfg.setdefault('env_cfg', {})
    dist_cfg = env_cfg.setdefault('dist_cfg', {})
    if dist_cfg.get('backend', 'nccl') == 'nccl':
        print_log('CUDA is not available: using the gloo backend.',
                  logger='current', level=logging.WARNING)
        dist_cfg['backend'] = 'gloo'
    wrapper = cfg.get('model_wrapper_cfg') or {}
    if wrapper.get('type', 'MMDistributedDataParallel') == \
            'MMDistributedDataParallel':
        # mmengine's Runner looks wrappers up in the root registry without
        # switching scope: the scope must be part of the name.
        cfg.model_wrapper_cfg = dict(wrapper, type='mstkd.DeviceAgnosticDDP')
    if launcher == 'pytorch':
        import torch.distributed as dist
        if not dist.is_initialized():
            dist.init_process_group(backend=dist_cfg['backend'])


def set_local_rank_env(local_rank: int) -> None:
    """torch.distributed.launch passes --local-rank; torchrun sets the env."""
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(local_rank)


def finalize_distributed() -> None:
    """Wait for every rank, then tear the process group down.

    Without this a rank that finishes first exits while its gloo threads are
    alive and the others still work (rank 0 writing the last checkpoint),
    and the C++ runtime aborts it ("terminate called without an active
    exception"), failing the whole torchrun job.
    """
    import torch.distributed as dist
    if dist.is_available() and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()
