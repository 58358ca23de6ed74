"""Schedules of loss weights over the epochs of a stage."""
from mstkd.registry import TASK_UTILS


@TASK_UTILS.register_module()
class StepDecay:
    """``initial * factor ** periods(epoch)``, ``epoch`` counted from 0
    inside the stage.

    MST-Distill's Eq. 18 weights: ``lambda_1`` halves every 30 S3 epochs
    (``step=30, factor=0.5``), ``lambda_2`` drops 10% every 10
    (``step=10, factor=0.9``).

    - ``rounding='floor'`` (the paper, default): ``periods = epoch // step``,
      the weight drops after every ``step`` completed epochs.
    - ``rounding='ceil'`` (the reference release): ``periods =
      ceil(epoch / step)``. The release multiplies at the end of every
      epoch ``e`` with ``e % step == 0`` (``main-MST-Distill.py``:
      ``args.w_kl *= 0.5 if epoch % 30 == 0 else 1``), epoch 0 included,
      so epoch 0 trains at ``initial`` and epochs ``1 .. step`` at
      ``initial * factor``.

    Config: ``loss_weight=dict(type='StepDecay', initial=1.0, step=30,
    factor=0.5)`` on any loss.

    ``complement=True`` gives ``1 - initial * factor ** periods``: the
    partner weight of a convex combination, e.g. the reference release's KD
    (``main-KD.py``: ``(1 - alpha) * CE + alpha * KL`` with ``alpha = 0.5``
    halved after every 30 epochs).

    Args:
        initial (float): Weight at epoch 0. Defaults to 1.0.
        step (int): Decay period in epochs. Defaults to 30.
        factor (float): Factor per period. Defaults to 0.5.
        rounding (str): ``'floor'`` or ``'ceil'``. Defaults to ``'floor'``.
        complement (bool): Return ``1 -`` the decayed value. Defaults to
            False.
    """

    def __init__(self,
                 initial: float = 1.0,
                 step: int = 30,
                 factor: float = 0.5,
                 rounding: str = 'floor',
                 complement: bool = False) -> None:
        if step <= 0:
            raise ValueError(f'step must be > 0, got {step}')
        if rounding not in ('floor', 'ceil'):
            raise ValueError(
                f"rounding must be 'floor' or 'ceil', got {rounding!r}")
        self.initial = initial
        self.step = step
        self.factor = factor
        self.rounding = rounding
        self.complement = complement

    def periods(self, epoch: int) -> int:
        """Decay periods applied at ``epoch``."""
        if epoch < 0:
            raise ValueError(f'epoch must be >= 0, got {epoch}')
        if self.rounding == 'floor':
            return epoch // self.step
        return -(-epoch // self.step)

    def __call__(self, epoch: int) -> float:
        value = self.initial * self.factor**self.periods(epoch)
        return 1.0 - value if self.complement else value

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(initial={self.initial}, step='
                f'{self.step}, factor={self.factor}, '
                f'rounding={self.rounding!r}, complement={self.complement})')
