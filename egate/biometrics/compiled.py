"""numba's compiler with egate's settings, for the few loops numpy cannot express.

The landmark model's reader and fitter (``egate.biometrics.shapemodel``,
``egate.biometrics.shapefitter``) walk trees and byte streams one element at a
time: in numpy each step would be a call. numba compiles them to machine code
on first use and keeps the result in ``__pycache__`` (or numba's user cache
when that is not writable), so later processes load it in a fraction of a
second. The functions release Python's lock (``nogil``) so a gate's other
threads run meanwhile. Floating point stays strict (no ``fastmath``): the
fitter must give dlib's landmarks to the bit.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar, cast

import numba

Function = TypeVar("Function", bound=Callable[..., Any])


def compiled(function: Function) -> Function:
    """``function`` compiled by numba (typed as itself, which numba's decorator is not)."""
    return cast(Function, numba.njit(cache=True, nogil=True)(function))
