"""Model wrappers."""
from mmengine.model import MMDistributedDataParallel

from mstkd.registry import MODEL_WRAPPERS


@MODEL_WRAPPERS.register_module()
class DeviceAgnosticDDP(MMDistributedDataParallel):
    """``MMDistributedDataParallel`` that also wraps CPU modules.

    mmengine's Runner always passes ``device_ids=[LOCAL_RANK]``, which torch
    rejects for a module on the CPU. Here ``device_ids`` is dropped when the
    module has no CUDA parameter, so the same config trains under torchrun
    on GPUs (NCCL) and on a CPU machine (gloo).
    """

    def __init__(self, module, device_ids=None, **kwargs):
        on_cuda = any(p.is_cuda for p in module.parameters())
        super().__init__(
            module=module, device_ids=device_ids if on_cuda else None,
            **kwargs)
