"""Errors about the user's input (data, config, layer paths), and about a
run that failed on its own (training diverged).

The command-line tools print these as one clear message and exit non-zero,
without a traceback: they describe a problem to fix, not a bug. A
:class:`UserInputError` exits with status 2, a :class:`RunFailedError` with
status 3 (see :func:`mstkd.utils.cli.run_tool`).
"""


class UserInputError(Exception):
    """Base class: the message names the problem and the fix."""


class DataNotFoundError(UserInputError, FileNotFoundError):
    """A dataset file or folder is missing or does not have the layout."""


class RunFailedError(Exception):
    """The run itself failed although its inputs were accepted, e.g. the
    training diverged to NaN/Inf: the message says where and what to try.

    Not a :class:`UserInputError`: nothing in the command or the config is
    wrong as such (the same learning rate may work with another seed or
    data), and scripts can tell the two apart by the exit status (3, not 2).
    """


class TrainingDivergedError(RunFailedError, FloatingPointError):
    """A loss term or a trainable parameter became NaN or infinite."""
