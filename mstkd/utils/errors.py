"""Errors about the user's input (data, config, layer paths).

The command-line tools print these as one clear message and exit non-zero,
without a traceback: they describe a problem to fix, not a bug.
"""


class UserInputError(Exception):
    """Base class: the message names the problem and the fix."""


class DataNotFoundError(UserInputError, FileNotFoundError):
    """A dataset file or folder is missing or does not have the layout."""
