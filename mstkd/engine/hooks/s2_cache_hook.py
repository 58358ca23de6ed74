"""MST-Distill S2: the hook-point cache's directory, size and clean-up."""
import os.path as osp

from mmengine.hooks import Hook

from mstkd.models.wrappers import unwrap_model
from mstkd.registry import HOOKS


def _mib(num_bytes: float) -> str:
    return f'{num_bytes / 2**20:.1f} MiB'


@HOOKS.register_module()
class S2CacheHook(Hook):
    """Points :class:`~mstkd.models.MSTDistill`'s S2 hook-point cache at
    ``<work_dir>/s2_cache`` (where segments past the RAM budget go to
    files, read and written with positioned file I/O), logs its size after
    the first S2 epoch (the epoch that fills it) and deletes it when S2
    ends. Added by the model's
    ``required_hooks`` when ``s2_cache`` is on.
    """

    priority = 'NORMAL'

    def __init__(self):
        self._logged = False

    def before_train(self, runner) -> None:
        model = unwrap_model(runner.model)
        # one directory per rank: each caches its own shard
        model.s2_cache_dir = osp.join(runner.work_dir, 's2_cache',
                                      f'rank{runner.rank}')

    def after_train_epoch(self, runner) -> None:
        model = unwrap_model(runner.model)
        store = getattr(model, 's2_cache_store', None)
        if store is None or self._logged or not store.stores:
            return
        self._logged = True
        rows = max(len(r) for r in store.rows.values())
        per_sample = sum(store.row_bytes().values())
        where = f'RAM {_mib(store.ram_used)}'
        if store.disk_used:
            where += (f' + files {_mib(store.disk_used)} in '
                      f'{model.s2_cache_dir}')
        runner.logger.info(
            f'S2 hook-point cache: {rows} samples x {per_sample / 1024:.1f} '
            f'KiB ({len(store.stores)} values, {store.dtype}) = '
            f'{_mib(rows * per_sample)}; allocated: {where} (budget '
            f'{_mib(store.ram_budget)})')

    def after_train_stage(self, runner, stage: str) -> None:
        model = unwrap_model(runner.model)
        if stage == getattr(model, 'masknet_stage', None):
            model.clear_s2_cache()
