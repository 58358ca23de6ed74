"""Schedules of loss weights over the epochs of a stage."""
from mstkd.registry import TASK_UTILS


@TASK_UTILS.register_module()
class StepDecay:
    """``initial * factor ** (epoch // step + offset)``.

    MST-Distill's Eq. 18 weights: ``lambda_1`` halves every 30 S3 epochs
    (``step=30, factor=0.5``), ``lambda_2`` drops 10% every 10
    (``step=10, factor=0.9``), ``epoch`` counted from 0 inside the stage.
    ``offset=1`` gives ``factor ** (epoch // step + 1)`` (mstkd's
    ``reference_compat.decay_from_epoch0``).

    Config: ``loss_weight=dict(type='StepDecay', initial=1.0, step=30,
    factor=0.5)`` on any loss.

    Args:
        initial (float): Weight at epoch 0. Defaults to 1.0.
        step (int): Decay period in epochs. Defaults to 30.
        factor (float): Factor per period. Defaults to 0.5.
        offset (int): Periods already elapsed at epoch 0. Defaults to 0.
    """

    def __init__(self,
                 initial: float = 1.0,
                 step: int = 30,
                 factor: float = 0.5,
                 offset: int = 0) -> None:
        if step <= 0:
            raise ValueError(f'step must be > 0, got {step}')
        self.initial = initial
        self.step = step
        self.factor = factor
        self.offset = offset

    def __call__(self, epoch: int) -> float:
        if epoch < 0:
            raise ValueError(f'epoch must be >= 0, got {epoch}')
        return self.initial * self.factor**(epoch // self.step + self.offset)

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(initial={self.initial}, step='
                f'{self.step}, factor={self.factor}, offset={self.offset})')
