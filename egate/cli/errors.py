"""Exit statuses and the error every command raises for bad input."""

from __future__ import annotations

EXIT_OK = 0
# The job ran and found a failure: an invalid document, a missed target.
EXIT_FAILURE = 1
# Usage or input error: bad options, unreadable files, invalid configuration.
EXIT_USAGE = 2


class InputError(Exception):
    """Input the command cannot use; its message is the one line shown to the user."""
