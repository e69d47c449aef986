"""The outcome of one face verification: a word the gate controller decides on.

Kept apart from the verifier (numpy, OpenCV, dlib) so that the controller,
the capacity model and the drivers can name it without loading any of them.
"""

from __future__ import annotations

from enum import StrEnum


class Decision(StrEnum):
    """The outcome of one verification."""

    MATCH = "match"
    NO_MATCH = "no_match"
    FAILURE_TO_ACQUIRE = "failure_to_acquire"
