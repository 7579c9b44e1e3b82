"""What one writer changed in the config, replayed on the file as it is when the write happens.

Every writer (the Settings dialog, `jarvis config set|unset`, `jarvis exclusions add|remove`,
the agent service) reads the config, lets time pass, and writes. Meanwhile another writer may
have written the file; writing the whole config it read back would silently undo that change,
and a lost exclusion rule is a privacy leak. So a writer hands `ConfigStore.update` only what it
changed (`ConfigPatch.between(loaded, edited)`), and the store applies it to the file read under
its lock.

A changed key is set whole: the user who changed the interval meant the interval they typed. The
exclusion rules are a list two writers may both change, so each writer's edits to it (rules
added, removed, edited) are replayed on the list as it is now: a rule someone else added stays,
and a rule someone else removed stays removed unless this writer edited it, in which case the
edited rule is kept (for exclusions one too many fails closed, one too few leaks).
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from jarvis_agent.capture.rules import ExclusionRule

if TYPE_CHECKING:
    from jarvis_agent.config import AgentConfig

__all__ = ["RULES_KEY", "ConfigPatch", "RuleEdit"]

RULES_KEY = "privacy.rules"


@dataclass(frozen=True, slots=True)
class RuleEdit:
    """Replace the run of rules `old` by `new`; `before` is the rule that followed the run when
    the writer read the list (None: the end), where `new` goes if none of `old` is left."""

    old: tuple[ExclusionRule, ...]
    new: tuple[ExclusionRule, ...]
    before: ExclusionRule | None = None

    def apply(self, rules: list[ExclusionRule]) -> None:
        at: int | None = None
        for rule in self.old:
            if rule in rules:
                index = rules.index(rule)
                del rules[index]
                at = index if at is None else min(at, index)
        if at is None:
            at = rules.index(self.before) if self.before in rules else len(rules)
        fresh = [rule for rule in self.new if rule not in rules]  # both writers added it
        rules[at:at] = fresh


def _rule_edits(base: Sequence[ExclusionRule], edited: Sequence[ExclusionRule]) -> list[RuleEdit]:
    # Not hashable-by-value for difflib's junk heuristics, so match on the JSON of each rule.
    keys_a = [rule.model_dump_json() for rule in base]
    keys_b = [rule.model_dump_json() for rule in edited]
    matcher = difflib.SequenceMatcher(a=keys_a, b=keys_b, autojunk=False)
    edits = []
    for tag, a1, a2, b1, b2 in matcher.get_opcodes():
        if tag == "equal":
            continue
        before = base[a2] if a2 < len(base) else None
        edits.append(RuleEdit(tuple(base[a1:a2]), tuple(edited[b1:b2]), before))
    return edits


@dataclass(frozen=True, slots=True)
class ConfigPatch:
    """Dotted keys set to new (JSON) values, and edits to the exclusion rules."""

    values: Mapping[str, Any] = field(default_factory=dict)
    rule_edits: tuple[RuleEdit, ...] = ()

    @classmethod
    def between(cls, base: AgentConfig, edited: AgentConfig) -> ConfigPatch:
        """What a writer that read `base` and ended with `edited` changed."""
        old, new = base.model_dump(mode="json"), edited.model_dump(mode="json")
        values = {
            f"{section}.{key}": value
            for section, keys in new.items()
            for key, value in keys.items()
            if f"{section}.{key}" != RULES_KEY and old[section].get(key) != value
        }
        return cls(values, tuple(_rule_edits(base.privacy.rules, edited.privacy.rules)))

    @classmethod
    def add_rule(cls, rule: ExclusionRule) -> ConfigPatch:
        """Append `rule` to the rules."""
        return cls(rule_edits=(RuleEdit((), (rule,)),))

    @classmethod
    def remove_rule(cls, rule: ExclusionRule) -> ConfigPatch:
        """Remove `rule` (if it is still there)."""
        return cls(rule_edits=(RuleEdit((rule,), ()),))

    def __bool__(self) -> bool:
        return bool(self.values or self.rule_edits)

    def apply_to(self, data: dict[str, Any]) -> None:
        """Apply to `data`, a config dumped as JSON (`AgentConfig.model_dump(mode="json")`)."""
        for dotted, value in self.values.items():
            *parents, last = dotted.split(".")
            table = data
            for key in parents:
                child = table.get(key)
                if not isinstance(child, dict):  # e.g. active_hours was unset
                    child = table[key] = {}
                table = child
            table[last] = value
        if self.rule_edits:
            privacy = data.setdefault("privacy", {})
            rules = [ExclusionRule.model_validate(r) for r in privacy.get("rules", [])]
            for edit in self.rule_edits:
                edit.apply(rules)
            privacy["rules"] = [rule.model_dump(mode="json") for rule in rules]
