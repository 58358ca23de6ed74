"""Model wrappers, and the one place that strips them."""
import torch.nn as nn
from mmengine.model import MMDistributedDataParallel, is_model_wrapper

from mstkd.registry import MODEL_WRAPPERS


def unwrap_model(model: nn.Module) -> nn.Module:
    """Strip (MM)DistributedDataParallel / DataParallel wrappers.

    Args:
        model (nn.Module): A model, wrapped or not.

    Returns:
        nn.Module: The innermost wrapped module.
    """
    while is_model_wrapper(model) or isinstance(
            model, (nn.DataParallel, nn.parallel.DistributedDataParallel)):
        model = model.module
    return model


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

    def train_step(self, data, optim_wrapper):
        """The distiller's micro-batched step (``micro_batch``, see
        :meth:`~mstkd.models.BaseDistiller.train_step`) through the DDP
        forward: every chunk but the last runs under ``no_sync``, so the
        accumulated gradient is all-reduced once per batch. Without
        micro-batching (or for a module that is no distiller), mmengine's
        ``MMDistributedDataParallel.train_step``. ``detect_anomalous_params``
        (a debugging option) is not run on micro-batched steps."""
        step = getattr(self.module, 'micro_batch_train_step', None)
        size = getattr(self.module, 'micro_batch_size', lambda: None)()
        if step is None or size is None:
            return super().train_step(data, optim_wrapper)
        return step(data, optim_wrapper, model=self)
