"""Configuration files: YAML validated by pydantic models, with one-line errors.

Every error names the file, the line where YAML places the offending value,
the field path and what was expected, e.g.::

    gates/t1.yaml:7: policy.min_age_years: Input should be greater than or equal to 0 (got -3)

Relative paths inside a file are read relative to that file (the loader
passes its folder to the models as validation context ``base_dir``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from egate.documents.policy import DocumentPolicySettings

Model = TypeVar("Model", bound=BaseModel)

# Large enough for any real configuration; a bigger file is a mistake.
MAX_CONFIG_BYTES = 4 * 1024 * 1024


class ConfigError(ValueError):
    """A configuration file that cannot be used; the message is one line."""


class PrivacySettings(BaseModel):
    """Where the salt for pseudonymous document keys comes from."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    salt_file: Path | None = Field(
        default=None,
        description=(
            "File holding the salt in hexadecimal (at least 16 bytes). Without it, "
            "$EGATE_SALT, else a random salt per process."
        ),
    )


class GateConfig(BaseModel):
    """One e-gate: its identity and the policies it applies."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    gate_id: str = Field(
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$",
        description="Name of the gate in audit records and metrics.",
    )
    policy: DocumentPolicySettings = Field(default_factory=DocumentPolicySettings)
    privacy: PrivacySettings = Field(default_factory=PrivacySettings)


def _line_of(node: yaml.Node | None, location: tuple[int | str, ...]) -> int | None:
    """The 1-based line of the YAML node at ``location``, or of its nearest parent."""
    line = None if node is None else node.start_mark.line + 1
    for step in location:
        child = None
        if isinstance(node, yaml.MappingNode):
            child = next((value for key, value in node.value if key.value == step), None)
            if child is None:
                # An unknown key: point at the key itself.
                child = next((key for key, _ in node.value if key.value == step), None)
        elif isinstance(node, yaml.SequenceNode) and isinstance(step, int):
            child = node.value[step] if step < len(node.value) else None
        if child is None:
            break
        node, line = child, child.start_mark.line + 1
    return line


def _describe(error: dict[str, Any]) -> str:
    if error["type"] == "extra_forbidden":
        return "unknown field"
    message = str(error["msg"]).removeprefix("Value error, ")
    if error["type"] == "missing":
        return "required field is missing"
    shown = repr(error.get("input"))
    if len(shown) > 40:
        shown = shown[:37] + "..."
    return f"{message} (got {shown})"


def load_config(path: Path, model: type[Model]) -> Model:
    """Read ``path`` as YAML into ``model``; raises ``ConfigError`` with a one-line message."""
    try:
        size = path.stat().st_size
        if size > MAX_CONFIG_BYTES:
            raise ConfigError(f"{path}: {size} bytes, more than a configuration file may have")
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise ConfigError(f"{path}: cannot read: {error.strerror or error}") from None
    except UnicodeDecodeError as error:
        raise ConfigError(f"{path}: byte {error.start}: not UTF-8 text") from None
    try:
        data = yaml.safe_load(text)
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
        problem = getattr(error, "problem", None) or str(error).splitlines()[0]
        raise ConfigError(f"{where}: not valid YAML: {problem}") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of settings, found {type(data).__name__}")
    try:
        return model.model_validate(data, context={"base_dir": path.parent})
    except ValidationError as error:
        errors = error.errors()
        first = errors[0]
        location = tuple(first["loc"])
        line = _line_of(node, location)
        where = f"{path}:{line}" if line is not None else str(path)
        field = ".".join(str(step) for step in location) or "(top level)"
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise ConfigError(f"{where}: {field}: {_describe(dict(first))}{more}") from None
