"""What the command-line tools share: a parser described by the tool's
module docstring, and the entry point that reports a
:class:`~mstkd.utils.errors.UserInputError` (exit status 2) or a
:class:`~mstkd.utils.errors.RunFailedError` (exit status 3) as one message,
without a traceback."""
import argparse
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


def run_tool(main: Callable[[], object]) -> None:
    """Run a tool's ``main()``; a :class:`UserInputError` is printed as
    ``error: MESSAGE`` on stderr and the process exits with status 2; a
    :class:`RunFailedError` (e.g. the training diverged) likewise, with
    status 3.

    Args:
        main (Callable): The tool's entry point (its return value is
            ignored).
    """
    try:
        main()
    except UserInputError as e:
        print(f'error: {e}', file=sys.stderr)
        sys.exit(2)
    except RunFailedError as e:
        print(f'error: {e}', file=sys.stderr)
        sys.exit(3)
