"""What the command-line tools share: a parser described by the tool's
module docstring, and the entry point that reports a
:class:`~mstkd.utils.errors.UserInputError` (exit status 2) or a
:class:`~mstkd.utils.errors.RunFailedError` (exit status 3) as one message,
without a traceback."""
import argparse
import re
import sys
from typing import Callable

from .errors import RunFailedError, UserInputError


def doc_parser(doc: str) -> argparse.ArgumentParser:
    """An argument parser described by a tool's module docstring.

    Args:
        doc (str): The docstring: a one-line summary, a blank line, then the
            usage and details.

    Returns:
        argparse.ArgumentParser: The summary is its description and the rest
        its epilog, printed as written.
    """
    return argparse.ArgumentParser(
        description=doc.splitlines()[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=doc.split('\n', 2)[2])


def user_message(error: BaseException) -> str:
    """The message of a user-facing error, without the traceback that a
    DataLoader worker wraps around it.

    An error raised in a worker process reaches the main process re-raised
    with the same type and the message ``Caught X in DataLoader worker
    process N. Original Traceback (...) ... module.X: MESSAGE``. This returns
    ``MESSAGE (in DataLoader worker process N)`` for such an error, and the
    error's own message otherwise.

    Args:
        error (BaseException): The error.

    Returns:
        str: The message to print.
    """
    text = str(error)
    name = type(error).__name__
    head = re.match(rf'Caught {re.escape(name)} (in DataLoader worker '
                    r'process \d+)\.\nOriginal Traceback', text)
    if head is None:
        return text
    # the traceback's last entry: "package.module.Name: message" (the
    # message may span lines); the last such line starts it
    starts = list(
        re.finditer(rf'^(?:[\w.]+\.)?{re.escape(name)}: ', text, re.M))
    if not starts:
        return text
    message = text[starts[-1].end():].rstrip('\n')
    return f'{message} ({head.group(1)})'


def run_tool(main: Callable[[], object]) -> None:
    """Run a tool's ``main()``; a :class:`UserInputError` is printed as
    ``error: MESSAGE`` on stderr and the process exits with status 2; a
    :class:`RunFailedError` (e.g. the training diverged) likewise, with
    status 3. An error raised in a DataLoader worker is printed the same way,
    without the worker's traceback (:func:`user_message`). The process group
    of a distributed run is destroyed when ``main`` returns or fails.

    Args:
        main (Callable): The tool's entry point (its return value is
            ignored).
    """
    try:
        main()
    except UserInputError as e:
        print(f'error: {user_message(e)}', file=sys.stderr)
        sys.exit(2)
    except RunFailedError as e:
        print(f'error: {user_message(e)}', file=sys.stderr)
        sys.exit(3)
    finally:
        _close_process_group()


def _close_process_group() -> None:
    """Destroy the process group of a distributed run before the
    interpreter exits: left to the interpreter's teardown, gloo's threads
    can still run and abort the process ("terminate called without an
    active exception", SIGABRT) after its work is done and its results
    written; ``dist_test.sh`` then failed although every rank had
    finished."""
    import torch.distributed as dist
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()
