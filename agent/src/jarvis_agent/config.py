"""The agent's settings: declared once (pydantic), stored as TOML, overridden by JARVIS_* variables.

`AgentConfig` holds every option with its default, bounds, choices, description and special values
(`Special`, such as 0 = never); the Settings dialog, the CLI and the runtime read them from here.
`ConfigStore` is the one place that reads and writes the file (`agent_paths().config_file`): it
keeps the user's comments and layout (tomlkit), writes atomically (temp file, fsync, rename) and
only writes keys the user has changed from the defaults, so a later release's better defaults
still reach them. Every write is a `ConfigPatch` (only what that writer changed) applied under a
file lock to the file as it is then, so two writers never undo each other's changes. Environment
variables named `JARVIS_<SECTION>__<KEY>` (for example `JARVIS_CAPTURE__INTERVAL_SECONDS=30`)
override the file; other JARVIS_* variables (JARVIS_HOME, the server's settings) are ignored.

Every rejected value raises `ConfigError`, whose message names the file or variable, the key, the
value and what is allowed. The device token is never part of the config: it lives in the keyring.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import re
import tempfile
import types
import typing
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar, get_args, get_origin
from urllib.parse import urlsplit

import annotated_types
import tomlkit
import tomlkit.exceptions
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
)
from pydantic.fields import FieldInfo
from tomlkit.container import Container
from tomlkit.items import Table

from jarvis_agent.capture.formats import ImageFormat
from jarvis_agent.capture.gates import ActiveHours
from jarvis_agent.capture.rules import (
    BROWSER_APPS,
    ExclusionRule,
    default_rules,
    private_browser_rules,
)
from jarvis_agent.config_patch import RULES_KEY, ConfigPatch, RuleEdit
from jarvis_agent.errors import AgentError
from jarvis_agent.paths import agent_paths
from jarvis_agent.runtime.instance_lock import file_lock
from jarvis_sync.sizes import format_size
from jarvis_sync.trust import url_problem

__all__ = [
    "AgentConfig",
    "CaptureSettings",
    "ConfigConflictError",
    "ConfigError",
    "ConfigPatch",
    "ConfigStore",
    "IgnoreRegion",
    "LoggingSettings",
    "OutboxSettings",
    "PrivacySettings",
    "ServerSettings",
    "Special",
    "UiSettings",
    "parse_raw",
    "parse_size",
    "validated",
]

ENV_PREFIX = "JARVIS_"
ENV_DELIMITER = "__"
_NONE_WORDS = frozenset({"", "none", "null", "unset", "default"})
_SIZE_UNITS = {
    "": 1,
    "b": 1,
    "k": 1000,
    "kb": 1000,
    "kib": 1024,
    "m": 1000**2,
    "mb": 1000**2,
    "mib": 1024**2,
    "g": 1000**3,
    "gb": 1000**3,
    "gib": 1024**3,
    "t": 1000**4,
    "tb": 1000**4,
    "tib": 1024**4,
}
_SIZE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$")


class ConfigError(AgentError, ValueError):
    """A config file or value was rejected; the message says where, what and what is allowed."""


class ConfigConflictError(ConfigError):
    """The file changed after a writer read it, and that writer's text cannot be merged."""


@dataclasses.dataclass(frozen=True, slots=True)
class Special:
    """A value of a numeric option that means something else than its number, shown as `label`
    (the Settings dialog's spin box shows the label at that value)."""

    value: float
    label: str


def parse_size(value: object) -> object:
    """Accept byte counts written as 2147483648, "2GiB", "500 MB" or "1.5g"; pass others through."""
    if isinstance(value, str):
        match = _SIZE_RE.match(value)
        if match is None or match.group(2).lower() not in _SIZE_UNITS:
            raise ValueError(
                "is not a size (units B, KiB, MiB, GiB, TiB; KB, MB, GB, TB count in 1000s)"
            )
        return int(float(match.group(1)) * _SIZE_UNITS[match.group(2).lower()])
    return value


def _check_url(value: str | None) -> str | None:
    if value is None:
        return None
    value = value.strip()
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("expected an http:// or https:// URL such as https://jarvis.example.com")
    if parts.username or parts.password:
        raise ValueError("the URL must not carry a user name or password; use `jarvis login`")
    if parts.query or parts.fragment:
        raise ValueError("the URL must not have a ?query or #fragment")
    return value.rstrip("/")


def _check_hotkey(value: str) -> str:
    # pynput's GlobalHotKeys syntax: keys joined by '+', special keys in angle brackets.
    keys = value.strip().lower().split("+")
    for key in keys:
        if not (re.fullmatch(r"<[a-z0-9_]+>", key) or len(key) == 1):
            raise ValueError(
                "expected keys joined by '+', special keys in angle brackets, "
                "such as <ctrl>+<alt>+p"
            )
    if len(keys) < 2:  # a lone key as a global hotkey would swallow typing
        raise ValueError("a global hotkey needs a modifier, such as <ctrl>+<alt>+p")
    return "+".join(keys)


def _upper(value: object) -> object:
    return value.upper() if isinstance(value, str) else value


ByteSize = Annotated[int, BeforeValidator(parse_size)]
HttpUrlText = Annotated[str | None, AfterValidator(_check_url)]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)


SectionT = TypeVar("SectionT", bound=_Section)


class IgnoreRegion(_Section):
    """A screen area whose changes never make a frame count as changed (a clock in the panel).

    In the monitor's own pixels: (0, 0) is its top-left corner. The area is still captured.
    """

    monitor: int = Field(0, ge=0, le=64, description="Monitor index (0 is the first).")
    x: int = Field(ge=0, le=65535)
    y: int = Field(ge=0, le=65535)
    width: int = Field(ge=1, le=65535)
    height: int = Field(ge=1, le=65535)


class CaptureSettings(_Section):
    """When and how screenshots are taken."""

    interval_seconds: float = Field(15.0, ge=1, le=3600, description="Seconds between captures.")
    jitter_seconds: float = Field(
        2.0, ge=0, le=60, description="Random delay added to each tick, so devices don't align."
    )
    image_format: ImageFormat = Field(
        "jpeg", description="png is lossless and large; jpeg and webp use `quality`."
    )
    quality: int = Field(
        80, ge=1, le=100, description="Encoder quality of jpeg and webp; 80 is a good balance."
    )
    max_dimension: int | None = Field(
        None, ge=256, le=16384, description="Downscale so neither side exceeds this many pixels."
    )
    monitors: list[Annotated[int, Field(ge=0, le=64)]] | None = Field(
        None, description="Monitor indexes to capture (0 is the first); unset means all."
    )
    change_threshold: float = Field(
        0.001,
        ge=0,
        lt=1,
        description="Share of sampled pixels that must differ for a frame to count as changed.",
    )
    max_gap_seconds: float = Field(
        300.0, gt=0, le=86400, description="Capture an unchanged screen at least this often."
    )
    ignore_regions: list[IgnoreRegion] = Field(
        default_factory=list,
        max_length=64,
        description="Areas whose changes alone never trigger a capture, e.g. "
        '[{"monitor": 0, "x": 1800, "y": 0, "width": 120, "height": 28}] for a panel clock.',
    )
    window_change_trigger: bool = Field(
        True, description="Capture shortly after the active window changes."
    )
    window_change_min_gap_seconds: float = Field(
        5.0, ge=0.5, le=3600, description="Least time between two window-change captures."
    )
    misfire_grace_seconds: float = Field(
        30.0, ge=1, le=3600, description="A tick later than this (after sleep) is skipped."
    )


class PrivacySettings(_Section):
    """What is never captured or recorded."""

    idle_threshold_seconds: Annotated[float, Special(0, "never")] = Field(
        300.0,
        ge=0,
        le=86400,
        description="Stop capturing after this long without input; 0 = never.",
    )
    active_hours: ActiveHours | None = Field(
        None, description="Capture only inside these hours; unset means always."
    )
    omit_titles: bool = Field(False, description="Leave window titles out of metadata and logs.")
    omit_app_names: bool = Field(False, description="Leave application names out of metadata.")
    rules: list[ExclusionRule] = Field(
        default_factory=default_rules, description="Windows that are skipped or blacked out."
    )
    private_browsers: list[str] = Field(
        default_factory=list,
        description="Black out every window of these browsers (e.g. Chromium, Chrome, Brave) "
        "unless its title matches allowed_browser_titles.",
    )
    allowed_browser_titles: list[Annotated[str, Field(min_length=1, max_length=500)]] = Field(
        default_factory=list,
        description="Title globs of private_browsers' windows that are captured (e.g. '*Jira*').",
    )

    @field_validator("private_browsers")
    @classmethod
    def _known_browsers(cls, browsers: list[str]) -> list[str]:
        unknown = [label for label in browsers if label not in BROWSER_APPS]
        if unknown:
            raise ValueError(
                f"unknown browser {', '.join(map(repr, unknown))}; "
                f"choose among {', '.join(BROWSER_APPS)}"
            )
        return browsers

    def effective_rules(self) -> list[ExclusionRule]:
        """The exclusion rules the capture applies: `rules`, then those of private_browsers."""
        return [
            *self.rules,
            *private_browser_rules(self.private_browsers, self.allowed_browser_titles),
        ]


class ServerSettings(_Section):
    """The Jarvis server captures are uploaded to (the token is in the keyring, not here)."""

    # Declared before `url`, whose validator reads it.
    allow_insecure_http: bool = Field(
        False,
        description="Send the token and captures over plain http to another computer "
        "(unencrypted; doctor and the tray warn). Loopback http never needs it.",
    )
    url: HttpUrlText = Field(None, description="Base URL of the server; set by `jarvis login`.")
    connect_timeout_seconds: float = Field(10.0, gt=0, le=300)
    timeout_seconds: float = Field(60.0, gt=0, le=3600, description="Limit for one upload.")

    @field_validator("url")
    @classmethod
    def _trusted_transport(cls, url: str | None, info: ValidationInfo) -> str | None:
        # The rule lives in jarvis_sync.trust, which the uploader applies again before sending.
        if url is not None:
            problem = url_problem(
                url, allow_insecure_http=info.data.get("allow_insecure_http", False)
            )
            if problem is not None:
                raise ValueError(problem)
        return url


class OutboxSettings(_Section):
    """The encrypted local queue of captures waiting for upload."""

    max_bytes: ByteSize = Field(
        2 * 1024**3, ge=16 * 1024**2, le=16 * 1024**4, description="Disk the outbox may use."
    )
    max_age_days: int | None = Field(
        None, ge=1, le=3650, description="Drop captures older than this; unset keeps them."
    )
    when_full: Literal["evict_oldest", "reject_newest"] = "evict_oldest"


class UiSettings(_Section):
    """The tray app."""

    pause_hotkey: Annotated[str, AfterValidator(_check_hotkey)] = Field(
        "<ctrl>+<alt>+p", description="Global hotkey that pauses and resumes (pynput syntax)."
    )
    notifications: bool = Field(True, description="Show desktop notifications on problems.")


class LoggingSettings(_Section):
    """The agent's own log (rotated by size)."""

    level: Annotated[Literal["DEBUG", "INFO", "WARNING", "ERROR"], BeforeValidator(_upper)] = "INFO"
    max_bytes: ByteSize = Field(
        5 * 1024**2, ge=64 * 1024, le=1024**3, description="Size of one log file."
    )
    backup_count: int = Field(3, ge=0, le=50, description="Rotated log files kept.")


class AgentConfig(_Section):
    """Every setting of the agent, in sections."""

    capture: CaptureSettings = Field(default_factory=CaptureSettings)
    privacy: PrivacySettings = Field(default_factory=PrivacySettings)
    server: ServerSettings = Field(default_factory=ServerSettings)
    outbox: OutboxSettings = Field(default_factory=OutboxSettings)
    ui: UiSettings = Field(default_factory=UiSettings)
    logging: LoggingSettings = Field(default_factory=LoggingSettings)


SECTIONS: tuple[str, ...] = tuple(AgentConfig.model_fields)


# --- describing what is allowed ---------------------------------------------------------------


def _type_words(annotation: Any) -> str:
    origin = get_origin(annotation)
    if origin is Annotated:
        return _type_words(get_args(annotation)[0])
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in get_args(annotation))
    if origin in (typing.Union, types.UnionType):
        args = [a for a in get_args(annotation) if a is not type(None)]
        words = " or ".join(_type_words(a) for a in args)
        if len(args) < len(get_args(annotation)):
            words += " (or `none` to unset)"
        return words
    if origin is list:
        (item,) = get_args(annotation) or (Any,)
        return f"a list of {_type_words(item)}"
    names = {bool: "true or false", int: "a whole number", float: "a number", str: "text"}
    if annotation in names:
        return names[annotation]
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return f"a table of {', '.join(annotation.model_fields)}"
    return getattr(annotation, "__name__", str(annotation))


def _allowed(info: FieldInfo) -> str:
    """What a field accepts, in words: "a number from 1 to 3600 (Seconds between captures)"."""
    words = _type_words(info.annotation)
    size = any(getattr(m, "func", None) is parse_size for m in info.metadata)
    if size:
        words = "a size"
    limits: dict[str, float] = {}
    for meta in info.metadata:
        for attr in ("ge", "gt", "le", "lt"):
            limit = getattr(meta, attr, None)
            if isinstance(meta, annotated_types.BaseMetadata) and limit is not None:
                limits[attr] = limit

    def shown(limit: float) -> str:
        return format_size(limit) if size else f"{limit:g}"

    unset = " (or `none` to unset)"
    optional = words.endswith(unset)
    words = words.removesuffix(unset)
    if "ge" in limits and "le" in limits:
        bounds = [f"from {shown(limits['ge'])} to {shown(limits['le'])}"]
    else:
        phrases = (("gt", "above"), ("ge", "at least"), ("lt", "below"), ("le", "at most"))
        bounds = [f"{phrase} {shown(limits[a])}" for a, phrase in phrases if a in limits]
    text = words + (f" {' and '.join(bounds)}" if bounds else "")
    if size:
        text += " such as 500MiB or 2GiB"
    if optional:
        text += unset
    if info.description:
        text += f" ({info.description.rstrip('.')})"
    return text


def _field_info(path: tuple[str | int, ...]) -> FieldInfo | None:
    model: Any = AgentConfig
    info: FieldInfo | None = None
    for part in path:
        if isinstance(part, int):
            continue
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            return info
        info = model.model_fields.get(part)
        if info is None:
            return None
        model = _model_in(info.annotation)
    return info


def _model_in(annotation: Any) -> Any:
    """The pydantic model inside `X`, `X | None` or `list[X]`, if any."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in get_args(annotation):
        found = _model_in(arg)
        if found is not None:
            return found
    return None


def _describe_errors(error: ValidationError, where: str, *, prefix: tuple[str, ...] = ()) -> str:
    lines = []
    for item in error.errors():
        loc = prefix + tuple(str(p) if isinstance(p, str) else p for p in item["loc"])
        # pydantic adds the name of the validator function (e.g. "function-after[...]") to loc.
        loc = tuple(p for p in loc if not (isinstance(p, str) and "[" in p))
        key = ".".join(str(p) for p in loc) or "(top level)"
        if item["type"] == "extra_forbidden":
            info_parent = _field_info(loc[:-1]) if len(loc) > 1 else None
            model = _model_in(info_parent.annotation) if info_parent else AgentConfig
            known = ", ".join(model.model_fields) if model else ""
            lines.append(f"{where}: unknown key {key}; the known keys here are: {known}")
            continue
        info = _field_info(loc)
        value = item.get("input")
        problem = _PROBLEMS.get(item["type"])
        if problem is None:
            # Our own validators' messages (value_error) are already in our words.
            message = item["msg"].removeprefix("Value error, ")
            problem = message if message.startswith("is ") else f"is not valid: {message}"
        use = f"; use {_allowed(info)}" if info is not None else ""
        lines.append(f"{where}: {key} = {_show(value)} {problem}{use}")
    return "\n".join(lines)


# pydantic's error types in our words; the "use ..." that follows says what is allowed.
_PROBLEMS = {
    "float_parsing": "is not a number",
    "float_type": "is not a number",
    "int_parsing": "is not a whole number",
    "int_type": "is not a whole number",
    "int_from_float": "is not a whole number",
    "bool_parsing": "is neither true nor false",
    "bool_type": "is neither true nor false",
    "greater_than_equal": "is too small",
    "greater_than": "is too small",
    "less_than_equal": "is too large",
    "less_than": "is too large",
    "finite_number": "is not a finite number",
    "literal_error": "is not one of the choices",
    "enum": "is not one of the choices",
    "string_type": "is not text",
    "list_type": "is not a list",
    "dict_type": "is not a table",
    "model_type": "is not a table",
    "model_attributes_type": "is not a table",
    "string_too_short": "is too short",
    "string_too_long": "is too long",
    "too_short": "has too few items",
    "too_long": "has too many items",
    "missing": "is missing",
}


def _show(value: Any) -> str:
    if isinstance(value, dict):
        return "{...}"
    text = json.dumps(value, default=str, ensure_ascii=False)
    return text if len(text) <= 80 else text[:77] + "..."


def validated(
    model: type[SectionT], data: Mapping[str, Any], where: str, *, section: str | None = None
) -> SectionT:
    """`model` (AgentConfig or one section) made from `data`; ConfigError naming each bad key,
    its value and what is allowed. `section` prefixes the keys when `model` is a section."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        prefix = (section,) if section else ()
        raise ConfigError(_describe_errors(exc, where, prefix=prefix)) from exc


# --- reading raw values ---------------------------------------------------------------------


def parse_raw(raw: str) -> Any:
    """A command-line value: `none` unsets, JSON lists/tables/quoted strings parse, else the text.

    Plain text is left for pydantic to coerce, so `30`, `true` and `jpeg` all work for the
    field they are meant for.
    """
    text = raw.strip()
    if text.lower() in _NONE_WORDS:
        return None
    if text[:1] in '[{"':
        try:
            return json.loads(text)
        except json.JSONDecodeError:
            with contextlib.suppress(tomlkit.exceptions.TOMLKitError):
                return tomlkit.parse(f"v = {text}").unwrap()["v"]
    return text


def _set_path(data: dict[str, Any], keys: list[str], value: Any) -> None:
    for key in keys[:-1]:
        child = data.get(key)
        if not isinstance(child, dict):
            child = {}
            data[key] = child
        data = child
    if value is None:
        data[keys[-1]] = None
    else:
        data[keys[-1]] = value


def _check_key(dotted_key: str) -> list[str]:
    keys = [k.strip() for k in dotted_key.strip().split(".")]
    model: Any = AgentConfig
    for i, key in enumerate(keys):
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            raise ConfigError(
                f"unknown key {dotted_key}: {'.'.join(keys[:i])} has no sub-keys; "
                "see `jarvis config show`"
            )
        info = model.model_fields.get(key)
        if info is None:
            where = ".".join(keys[:i]) or "the config"
            raise ConfigError(
                f"unknown key {dotted_key}: {where} has the keys {', '.join(model.model_fields)}"
            )
        model = _model_in(info.annotation)
        if get_origin(info.annotation) is list and i < len(keys) - 1:
            raise ConfigError(
                f"{'.'.join(keys[: i + 1])} is a list; set it whole (JSON) or, for rules, "
                "use `jarvis exclusions`"
            )
    if len(keys) == 1:
        raise ConfigError(
            f"{dotted_key} is a section; set one of its keys, such as {dotted_key}."
            f"{next(iter(model.model_fields))}"
        )
    return keys


# --- the file ---------------------------------------------------------------------------------


def _dump(config: BaseModel) -> dict[str, Any]:
    return config.model_dump(mode="json")


def _merge_into(
    container: Container | Table, new: Mapping[str, Any], default: Mapping[str, Any]
) -> None:
    """Update a tomlkit table in place: comments and order survive, defaults aren't added."""
    for key, value in new.items():
        present = key in container
        if value is None:
            if present:
                del container[key]
            continue
        if isinstance(value, dict) and isinstance(default.get(key), dict):
            if not present:
                if value == default.get(key):
                    continue
                container[key] = tomlkit.table()
            child = container[key]
            if isinstance(child, Table | Container):
                _merge_into(child, value, default[key])
                continue
            container[key] = value
            continue
        if not present and value == default.get(key):
            continue
        if present and container[key] == value:
            continue
        container[key] = _toml_value(value)
    for key in [k for k in container if k not in new]:
        del container[key]


def _toml_value(value: Any) -> Any:
    if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        array = tomlkit.aot()
        for item in value:
            table = tomlkit.table()
            for k, v in item.items():
                if v is not None:
                    table[k] = v
            array.append(table)
        return array
    return value


def _strip_none(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_strip_none(v) for v in value]
    return value


class ConfigStore:
    """Reads and writes the config file; the only code that touches it."""

    def __init__(
        self, path: Path | None = None, *, environ: Mapping[str, str] | None = None
    ) -> None:
        self.path = path if path is not None else agent_paths().config_file
        self._environ = environ

    # reading

    def _document(self) -> tomlkit.TOMLDocument:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return tomlkit.document()
        except OSError as exc:
            raise ConfigError(f"cannot read the config file {self.path}: {exc.strerror}") from exc
        except UnicodeDecodeError as exc:
            raise ConfigError(
                f"{self.path} is not UTF-8 text; fix or delete it (`jarvis config edit`)"
            ) from exc
        try:
            return tomlkit.parse(text)
        except tomlkit.exceptions.ParseError as exc:
            raise ConfigError(
                f"{self.path} is not valid TOML (line {exc.line}, column {exc.col}): "
                f"{str(exc).split(' at line')[0]}; fix it with `jarvis config edit`"
            ) from exc

    def load_file(self) -> AgentConfig:
        """The config as the file says, without environment overrides; missing file -> defaults."""
        data = self._document().unwrap()
        try:
            return AgentConfig.model_validate(data)
        except ValidationError as exc:
            raise ConfigError(_describe_errors(exc, str(self.path))) from exc

    def env_overrides(self) -> dict[str, dict[str, Any]]:
        """The values set through JARVIS_<SECTION>__<KEY> variables, by section.

        Values are read like `jarvis config set` values (`30`, `true`, `none`, JSON lists).
        """
        environ = os.environ if self._environ is None else self._environ
        result: dict[str, dict[str, Any]] = {}
        for name, raw in sorted(environ.items()):
            if not name.upper().startswith(ENV_PREFIX):
                continue
            keys = name[len(ENV_PREFIX) :].lower().split(ENV_DELIMITER)
            if len(keys) < 2 or keys[0] not in SECTIONS:
                continue  # JARVIS_HOME, the server's settings, ...
            try:
                keys = _check_key(".".join(keys))
            except ConfigError as exc:
                raise ConfigError(f"environment variable {name}: {exc}") from None
            _set_path(result.setdefault(keys[0], {}), keys[1:], parse_raw(raw))
        for section, values in result.items():
            model = AgentConfig.model_fields[section].annotation
            assert isinstance(model, type)
            assert issubclass(model, BaseModel)
            try:
                parsed = model.model_validate(values)
            except ValidationError as exc:
                where = "environment variables " + ", ".join(
                    n
                    for n in sorted(environ)
                    if n.upper().startswith(f"{ENV_PREFIX}{section.upper()}__")
                )
                raise ConfigError(_describe_errors(exc, where, prefix=(section,))) from exc
            dumped = _dump(parsed)
            result[section] = {k: dumped[k] for k in values}
        return result

    def load(self) -> AgentConfig:
        """The effective config: the file, then JARVIS_* overrides; missing file -> defaults."""
        base = _dump(self.load_file())
        for section, values in self.env_overrides().items():
            base[section].update(values)
        try:
            return AgentConfig.model_validate(base)
        except ValidationError as exc:
            raise ConfigError(_describe_errors(exc, "environment overrides")) from exc

    # writing

    @property
    def lock_path(self) -> Path:
        """The file every writer locks while it reads, changes and replaces the config."""
        return self.path.with_name(self.path.name + ".lock")

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        with file_lock(self.lock_path):
            yield

    def update(self, patch: ConfigPatch, *, where: str = "the new settings") -> AgentConfig:
        """Apply `patch` to the file as it is now, validate, write atomically; returns load().

        The read, the change and the replace happen under the file lock, so a writer that read
        the config earlier (the Settings dialog, open for minutes) changes only what its user
        changed and keeps what others wrote meanwhile. Nothing is written if the result is
        invalid (ConfigError naming the key and what is allowed).
        """
        with self._locked():
            document = self._document()
            data = _dump(self._validate(document.unwrap(), str(self.path)))
            patch.apply_to(data)
            config = self._validate(data, where)
            _merge_into(document, _dump(config), _dump(AgentConfig()))
            self._write(tomlkit.dumps(document))
        return self.load()

    def set_value(self, dotted_key: str, raw: str) -> AgentConfig:
        """Validate and store one value, e.g. ("capture.interval_seconds", "30"); returns load()."""
        keys = _check_key(dotted_key)
        value = parse_raw(raw)
        info = _field_info(tuple(keys))
        if value is None and info is not None and info.default is not None:
            value = _default_of(keys)  # `none` on a key that can't be None: back to the default
        return self.update(ConfigPatch({".".join(keys): value}), where="config set")

    def unset_value(self, dotted_key: str) -> AgentConfig:
        """Return one key to its default."""
        keys = _check_key(dotted_key)
        if keys == RULES_KEY.split("."):
            # The rules as a whole: every current rule out, the default ones in.
            current = self.load_file().privacy.rules
            patch = ConfigPatch(rule_edits=(RuleEdit(tuple(current), tuple(default_rules())),))
        else:
            patch = ConfigPatch({".".join(keys): _default_of(keys)})
        return self.update(patch, where="config unset")

    def read_text(self) -> str:
        """The file's text ('' when there is none yet), for an editor; see `write_text`."""
        try:
            return self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return ""

    def write_text(self, text: str, *, expected: str | None = None) -> AgentConfig:
        """Replace the whole file with `text` (from an editor) if it is a valid config.

        `expected` is what `read_text()` gave when the editing began: if the file holds anything
        else now, someone else wrote it meanwhile, and ConfigConflictError is raised instead of
        overwriting that (free text cannot be merged key by key).
        """
        try:
            data = tomlkit.parse(text).unwrap()
        except tomlkit.exceptions.ParseError as exc:
            raise ConfigError(
                f"{self.path} would not be valid TOML (line {exc.line}, column {exc.col})"
            ) from exc
        config = self._validate(data, str(self.path))
        with self._locked():
            if expected is not None and self.read_text() != expected:
                raise ConfigConflictError(
                    f"{self.path} was changed by another program (the Settings dialog or another "
                    "`jarvis config`/`jarvis exclusions` command) while you edited it; your text "
                    "was not saved"
                )
            self._write(text)
        return config

    @staticmethod
    def _validate(data: Any, where: str) -> AgentConfig:
        return validated(AgentConfig, data, where)

    def _write(self, text: str) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd, tmp = tempfile.mkstemp(prefix=".config-", suffix=".toml", dir=self.path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(text)
                handle.flush()
                os.fsync(handle.fileno())
            os.chmod(tmp, 0o600)
            os.replace(tmp, self.path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise
        with contextlib.suppress(OSError):  # not every platform can fsync a directory
            dir_fd = os.open(self.path.parent, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)


def _default_of(keys: list[str]) -> Any:
    default: Any = _dump(AgentConfig())
    for key in keys:
        default = default.get(key) if isinstance(default, dict) else None
    return default
