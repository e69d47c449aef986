"""Configuration files: YAML validated by pydantic models, with one-line errors.

Every error names the file, the line where YAML places the offending value,
the field path and what was expected, e.g.::

    gates/t1.yaml:7: policy.min_age_years: Input should be greater than or equal to 0 (got -3)

Relative paths inside a file are read relative to that file (the loader
passes its folder to the models as validation context ``base_dir``).
"""

from __future__ import annotations

import re
import reprlib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from egate.audit import AuditSettings
from egate.biometrics.capture import CaptureSettings
from egate.biometrics.verifier import VerifierSettings
from egate.documents.policy import DocumentPolicySettings
from egate.endpoint import MetricsSettings
from egate.gate.settings import ControllerSettings, Topology
from egate.paths import ConfigFile

Model = TypeVar("Model", bound=BaseModel)

# Large enough for any real configuration; a bigger file is a mistake.
MAX_CONFIG_BYTES = 4 * 1024 * 1024


class ConfigError(ValueError):
    """A configuration file that cannot be used; the message is one line."""


class LocatedError(ValueError):
    """A model validator's error about one field deeper in the file.

    A cross-field check (a tailgater behind an unknown passenger) runs on the
    whole model, so pydantic would place its error at the top level; the
    loader reports it at ``location`` instead, with that field's line.
    """

    def __init__(self, location: tuple[int | str, ...], message: str) -> None:
        super().__init__(message)
        self.location = location


# Names a location for an error message: ("passengers", 6, "chip") may read
# better as "passenger P007: chip" than as "passengers.6.chip".
LocationNamer = Callable[[object, tuple[int | str, ...]], str]


def _plain_resolvers(
    resolvers: dict[Any, list[tuple[str, re.Pattern[str]]]],
) -> dict[Any, list[tuple[str, re.Pattern[str]]]]:
    """YAML 1.1's implicit resolvers without base-60 numbers and without timestamps.

    YAML 1.1 reads an unquoted ``10:30:00`` as the base-60 integer 37800 (but
    ``08:30:00`` as a string); egate's files take times of day, so a colon
    always makes a string, as in YAML 1.2.  Dates stay strings for the models
    to parse, so that an impossible date (1985-02-30) is reported with its
    field rather than as a broken file.
    """
    numbers = {"tag:yaml.org,2002:int", "tag:yaml.org,2002:float"}
    return {
        first: [
            (tag, re.compile(r"(?!.*:)" + pattern.pattern, pattern.flags))
            if tag in numbers
            else (tag, pattern)
            for tag, pattern in entries
            if tag != "tag:yaml.org,2002:timestamp"
        ]
        for first, entries in resolvers.items()
    }


class _Loader(yaml.SafeLoader):
    """PyYAML's safe loader, without base-60 numbers and implicit timestamps."""

    yaml_implicit_resolvers = _plain_resolvers(yaml.SafeLoader.yaml_implicit_resolvers)


class PrivacySettings(BaseModel):
    """Where the salt for pseudonymous document keys comes from."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    salt_file: ConfigFile | None = Field(
        default=None,
        description=(
            "File holding the salt in hexadecimal (at least 16 bytes). Without it, "
            "$EGATE_SALT, else a random salt per process (relative to the configuration file)."
        ),
    )


Seconds = Annotated[float, Field(gt=0, le=3600)]


class ControllerConfig(BaseModel):
    """How the gate controller runs a transaction: doors, capture attempts, time limits."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    topology: Topology = Field(
        default=Topology.TWO_STEP,
        description="two_step (mantrap: entry after the document) or one_step.",
    )
    capture_attempts: int = Field(
        default=3, ge=1, le=10, description="Face captures before referral."
    )
    document_timeout_s: Seconds = 20.0
    entry_timeout_s: Seconds = 15.0
    capture_timeout_s: Seconds = 10.0
    verify_timeout_s: Seconds = 10.0
    exit_timeout_s: Seconds = 15.0
    retreat_timeout_s: Seconds = 30.0
    interlock_timeout_s: Seconds = Field(
        default=10.0,
        description=(
            "Two-step: how long a door waits for the board to report the other one CLOSED "
            "(then TIMEOUT_INTERLOCK)."
        ),
    )

    def settings(self) -> ControllerSettings:
        """The controller's own settings object."""
        return ControllerSettings(**self.model_dump(exclude={"topology"}))


class MatchingConfig(BaseModel):
    """The matching core serving this gate: workers, queue and the verifier."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    workers: int = Field(default=2, ge=1, le=64, description="Verification workers.")
    kind: Literal["process", "thread"] = Field(
        default="process", description="Worker processes (measured faster) or threads."
    )
    queue_limit: int = Field(default=16, ge=0, le=10_000, description="Jobs waiting at most.")
    deadline_s: Seconds = Field(default=5.0, description="A job must start within this long.")
    verifier: VerifierSettings = Field(default_factory=VerifierSettings)
    capture: CaptureSettings = Field(default_factory=CaptureSettings)


class ServiceSettings(BaseModel):
    """The on-gate service (`egate run`): controller, matching core, audit trail, metrics."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    controller: ControllerConfig = Field(default_factory=ControllerConfig)
    matching: MatchingConfig = Field(default_factory=MatchingConfig)
    audit: AuditSettings = Field(default_factory=AuditSettings)
    metrics: MetricsSettings = Field(default_factory=MetricsSettings)
    startup_grace_s: Seconds = Field(
        default=10.0, description="Devices have this long to answer before the gate opens degraded."
    )
    console: Path | None = Field(
        default=None,
        description=(
            "Unix socket of the officer console (relative to the configuration file); "
            "unset: no console."
        ),
    )
    stop_grace_s: Seconds = Field(
        default=10.0, description="At a stop, the transaction in progress may finish this long."
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
    service: ServiceSettings = Field(default_factory=ServiceSettings)


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


def _duplicate_key(root: yaml.Node | None) -> tuple[int, str, int] | None:
    """(line, dotted path, line of the first one) of a key set twice in one mapping.

    YAML forbids this but PyYAML keeps the last value silently: a second
    ``policy:`` block would quietly replace the first.
    """
    stack: list[tuple[yaml.Node, tuple[str, ...]]] = [] if root is None else [(root, ())]
    seen_nodes: set[int] = set()
    while stack:
        node, where = stack.pop()
        if id(node) in seen_nodes:  # an alias: already walked
            continue
        seen_nodes.add(id(node))
        if isinstance(node, yaml.MappingNode):
            first_line: dict[tuple[str, str], int] = {}
            for key, value in node.value:
                if not isinstance(key, yaml.ScalarNode):
                    continue
                line = key.start_mark.line + 1
                if (key.tag, key.value) in first_line:
                    return line, ".".join((*where, key.value)), first_line[key.tag, key.value]
                first_line[key.tag, key.value] = line
                stack.append((value, (*where, key.value)))
        elif isinstance(node, yaml.SequenceNode):
            stack.extend((item, (*where, str(index))) for index, item in enumerate(node.value))
    return None


def _known_fields(model: type[BaseModel], location: tuple[int | str, ...]) -> list[str]:
    """The field names of the (nested) model that holds ``location``, if it is one."""
    current: type[BaseModel] = model
    for step in location:
        info = current.model_fields.get(str(step))
        annotation = None if info is None else info.annotation
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            return []
        current = annotation
    return list(current.model_fields)


def _describe(error: dict[str, Any], model: type[BaseModel]) -> str:
    if error["type"] == "extra_forbidden":
        known = _known_fields(model, tuple(error["loc"])[:-1])
        return f"unknown field (expected one of: {', '.join(known)})" if known else "unknown field"
    message = str(error["msg"]).removeprefix("Value error, ")
    if error["type"] == "missing":
        return "required field is missing"
    if isinstance((error.get("ctx") or {}).get("error"), LocatedError):
        return message  # the value is a whole section: its field says enough
    return f"{message} (got {_shown(error.get('input'))})"


def _shown(value: object) -> str:
    """The offending value for an error message, cut short.

    YAML aliases can build nested lists whose full repr would never finish.
    """
    shorten = reprlib.Repr()
    shorten.maxlevel = 1
    shorten.maxlist = shorten.maxtuple = shorten.maxdict = shorten.maxset = 4
    shorten.maxstring = shorten.maxother = 40
    return shorten.repr(value)


def _one_line(text: str) -> str:
    """``text`` with line breaks and other control characters escaped."""
    return "".join(char if char.isprintable() else repr(char)[1:-1] for char in text)


def load_config(
    path: Path,
    model: type[Model],
    *,
    namer: LocationNamer | None = None,
    context: Mapping[str, object] | None = None,
) -> Model:
    """Read ``path`` as YAML into ``model``; raises ``ConfigError`` with a one-line message.

    ``namer`` turns an error's location (and the file's data) into the text
    the message shows; the default joins it with dots.  ``context`` adds to
    the validation context (``base_dir``, the file's folder, is always there).
    """
    try:
        return _load(path, model, namer, context or {})
    except ConfigError as error:
        raise ConfigError(_one_line(str(error))) from None


def _dotted(data: object, location: tuple[int | str, ...]) -> str:
    return ".".join(str(step) for step in location) or "(top level)"


def _load(
    path: Path, model: type[Model], namer: LocationNamer | None, context: Mapping[str, object]
) -> Model:
    try:
        with path.open("rb") as stream:
            # One byte more than allowed tells a file that is too big, whatever
            # its size claims (a pipe or a device has none).
            raw = stream.read(MAX_CONFIG_BYTES + 1)
    except OSError as error:
        raise ConfigError(f"{path}: cannot read: {error.strerror or error}") from None
    if len(raw) > MAX_CONFIG_BYTES:
        raise ConfigError(
            f"{path}: more than {MAX_CONFIG_BYTES} bytes, too big for a configuration file"
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        bad_line = raw[: error.start].count(b"\n") + 1
        raise ConfigError(f"{path}:{bad_line}: not UTF-8 text (byte {error.start + 1})") from None
    # One pass keeps the nodes (for line numbers) and builds the data from them.
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        data = None if node is None else loader.construct_document(node)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
        problem = getattr(error, "problem", None) or str(error).splitlines()[0]
        raise ConfigError(f"{where}: not valid YAML: {problem}") from None
    except RecursionError:
        raise ConfigError(f"{path}: not valid YAML: nested too deeply") from None
    finally:
        loader.dispose()
    duplicate = _duplicate_key(node)
    if duplicate is not None:
        again, dotted, first = duplicate
        raise ConfigError(f"{path}:{again}: {dotted}: set twice (first on line {first})")
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of settings, found {type(data).__name__}")
    try:
        return model.model_validate(data, context={**context, "base_dir": path.parent})
    except ValidationError as error:
        errors = error.errors()
        first_error = errors[0]
        location = tuple(first_error["loc"])
        cause = (first_error.get("ctx") or {}).get("error")
        if isinstance(cause, LocatedError):
            location = (*location, *cause.location)
        line = _line_of(node, location)
        where = f"{path}:{line}" if line is not None else str(path)
        field = (namer or _dotted)(data, location)
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        described = _describe(dict(first_error), model)
        raise ConfigError(f"{where}: {field}: {described}{more}") from None
