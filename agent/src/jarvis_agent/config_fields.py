"""What each option accepts, read from its one declaration in `AgentConfig`.

The Settings dialog builds its spin boxes and choices from these specs (range, choices, help
text, special values such as 0 = never), so it accepts exactly what the config accepts; the CLI
validates through the model itself.
"""

from __future__ import annotations

import types
import typing
from dataclasses import dataclass
from typing import Any, Literal, get_args, get_origin

import annotated_types
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from jarvis_agent.config import AgentConfig, Special

__all__ = ["FieldSpec", "field_spec", "field_specs"]


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """One option: `key` (section.name), its base type, bounds, choices and meaning."""

    key: str
    kind: type
    default: Any
    optional: bool  # None is allowed (and means what the description says)
    minimum: float | None = None
    maximum: float | None = None
    min_exclusive: bool = False
    max_exclusive: bool = False
    choices: tuple[str, ...] | None = None
    description: str = ""
    special: tuple[Special, ...] = ()

    def allows(self, value: float) -> bool:
        """Whether `value` is inside the bounds (the type and choices aside)."""
        if self.minimum is not None and (
            value <= self.minimum if self.min_exclusive else value < self.minimum
        ):
            return False
        return self.maximum is None or (
            value < self.maximum if self.max_exclusive else value <= self.maximum
        )

    def label(self, value: float) -> str | None:
        """The words a special value stands for (0 -> "never"), else None."""
        return next((s.label for s in self.special if s.value == value), None)


def _base(annotation: Any) -> tuple[Any, bool]:
    """(the type without None, whether None is allowed)."""
    if get_origin(annotation) in (typing.Union, types.UnionType):
        args = [a for a in get_args(annotation) if a is not type(None)]
        optional = len(args) < len(get_args(annotation))
        return (args[0] if len(args) == 1 else annotation), optional
    return annotation, False


def _spec(key: str, info: FieldInfo) -> FieldSpec:
    annotation, optional = _base(info.annotation)
    choices: tuple[str, ...] | None = None
    origin = get_origin(annotation)
    if origin is Literal:
        choices = tuple(str(a) for a in get_args(annotation))
        kind: type = str
    elif isinstance(origin, type):
        kind = origin  # list[...] -> list
    elif isinstance(annotation, type):
        kind = annotation
    else:
        kind = object
    bounds: dict[str, Any] = {}
    for meta in info.metadata:
        if isinstance(meta, annotated_types.Ge):
            bounds.update(minimum=meta.ge)
        elif isinstance(meta, annotated_types.Gt):
            bounds.update(minimum=meta.gt, min_exclusive=True)
        elif isinstance(meta, annotated_types.Le):
            bounds.update(maximum=meta.le)
        elif isinstance(meta, annotated_types.Lt):
            bounds.update(maximum=meta.lt, max_exclusive=True)
    return FieldSpec(
        key=key,
        kind=kind,
        default=info.get_default(call_default_factory=True),
        optional=optional,
        choices=choices,
        description=info.description or "",
        special=tuple(m for m in info.metadata if isinstance(m, Special)),
        **bounds,
    )


def field_specs() -> list[FieldSpec]:
    """Every option of every section, in declaration order."""
    specs = []
    for section, section_info in AgentConfig.model_fields.items():
        model = section_info.annotation
        assert isinstance(model, type)
        assert issubclass(model, BaseModel)
        for name, info in model.model_fields.items():
            specs.append(_spec(f"{section}.{name}", info))
    return specs


def field_spec(key: str) -> FieldSpec:
    """The spec of one option, such as "privacy.idle_threshold_seconds"."""
    for spec in field_specs():
        if spec.key == key:
            return spec
    raise KeyError(f"no option {key!r} in AgentConfig")
