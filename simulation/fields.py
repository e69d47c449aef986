"""What the hall configuration's models share: a located error, and unknown keys named.

A misspelt key is the commonest mistake in a YAML file. Left to pydantic it
reads as two errors, the unknown key and the required field it was meant to
be, and the loader's one line may show the second ("required field is
missing (and 1 more)"). ``StrictKeys`` checks the keys first and stops at
the first unknown one, naming the likely field::

    gates.cuont: unknown field; did you mean "count"? (got 12)
"""

from __future__ import annotations

import difflib

from pydantic import BaseModel, ValidationError, model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError

__all__ = ["StrictKeys", "fail", "known_keys", "suggestion"]


def fail(location: tuple[str | int, ...], message: str, value: object) -> None:
    """Raise a validation error at ``location`` (relative to the model being validated).

    Pydantic prefixes the location of the enclosing fields, so a cross-field
    check still names the exact dotted field in ``load_config``'s message.
    """
    error = PydanticCustomError("hall_config", message)
    details = InitErrorDetails(type=error, loc=location, input=value)
    raise ValidationError.from_exception_data("HallConfig", [details])


def known_keys(model: type[BaseModel]) -> list[str]:
    """The keys a file may give for ``model``: field names, and aliases where there are."""
    keys: list[str] = []
    for name, info in model.model_fields.items():
        keys.append(info.alias or name)
        if info.alias and model.model_config.get("populate_by_name"):
            keys.append(name)
    return keys


def suggestion(word: str, known: list[str]) -> str:
    """``; did you mean "x"?`` for the closest of ``known``, or the list of them."""
    close = difflib.get_close_matches(word, known, n=1, cutoff=0.6)
    if close:
        return f'; did you mean "{close[0]}"?'
    return f" (expected one of: {', '.join(known)})" if known else ""


class StrictKeys(BaseModel):
    """A model whose unknown keys are one error each, with the likely field suggested."""

    @model_validator(mode="before")
    @classmethod
    def _no_unknown_keys(cls, data: object) -> object:
        if isinstance(data, dict):
            known = known_keys(cls)
            for key, value in data.items():
                if key not in known:
                    fail((str(key),), f"unknown field{suggestion(str(key), known)}", value)
        return data
