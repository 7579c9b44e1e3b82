"""Rule patterns in words, for the Privacy table: what a pattern matches, short enough to fit.

The table shows these descriptions; the pattern itself is one click away (its tooltip, and the
cell's editor). Pure functions, so every wording is tested without a display.
"""

from __future__ import annotations

import re

from jarvis_agent.capture.rules import (
    BROWSER_APPS,
    PASSWORD_MANAGERS,
    PASSWORD_VAULT_SITES,
    MatchType,
    browser_app_regex,
    chromium_family_app_regex,
    private_title_regex,
    vault_title_regex,
)

SHORT = 40  # characters a description may take before the rest is summed up as "N more"

# Characters that make a regex alternative more than a plain word once its anchors are gone.
_SPECIAL = re.compile(r"[.*+?()\[\]{}|\\^$]")


def _known() -> dict[str, str]:
    known = {pattern: label for label, pattern in BROWSER_APPS.items()}
    known.update({pattern: label for label, pattern in PASSWORD_MANAGERS.items()})
    known[private_title_regex()] = "marked private (any language)"
    known[browser_app_regex()] = "any browser"
    known[chromium_family_app_regex()] = "Chromium-family browsers"
    sites = list(PASSWORD_VAULT_SITES)
    known[vault_title_regex()] = f"vault page of {', '.join(sites[:2])}, …"
    return known


_KNOWN = _known()


def _alternatives(pattern: str) -> list[str] | None:
    """The top-level `a|b|c` parts of a regex, or None where a part is not a plain word."""
    parts: list[str] = []
    current, depth, escaped = "", 0, False
    for char in pattern:
        if escaped:
            current += "\\" + char
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == "|" and depth == 0:
            parts.append(current)
            current = ""
        else:
            depth += {"(": 1, ")": -1, "[": 1, "]": -1}.get(char, 0)
            current += char
    parts.append(current)
    words = []
    for part in parts:
        plain = part.removeprefix("^").removesuffix("$").replace("[- ]?", " ")
        if _SPECIAL.search(re.sub(r"\\[^a-zA-Z0-9]", "", plain)) or not plain.strip():
            return None
        words.append(re.sub(r"\\(.)", r"\1", plain).strip())
    return words


def pattern_words(pattern: str, match: MatchType | str) -> list[str] | None:
    """The plain words a regex of alternatives (`a|b|c`) stands for; None for anything else.

    The shipped web-vault pattern stands for its products' names.
    """
    if pattern == vault_title_regex():
        return [f"{site} web vault" for site in PASSWORD_VAULT_SITES]
    return _alternatives(pattern) if str(match) == MatchType.REGEX else None


def _listing(words: list[str]) -> str:
    """'a, b, c' when it fits, else the first words that fit and 'N more' (never a cut word)."""
    if len(", ".join(words)) <= SHORT:
        return ", ".join(words)
    shown: list[str] = []
    for word in words:
        if len(", ".join([*shown, word])) > SHORT - 10:
            break
        shown.append(word)
    rest = len(words) - len(shown)
    return ", ".join(shown) + f" and {rest} more" if shown else f"{len(words)} words"


def describe_pattern(pattern: str | None, match: MatchType | str) -> str:
    """A pattern as the table shows it: the product it names, or its words, or the pattern."""
    if pattern is None or not pattern.strip():
        return "any"
    if pattern in _KNOWN:
        return _KNOWN[pattern]
    if str(match) == MatchType.REGEX:
        words = _alternatives(pattern)
        if words is not None:
            return _listing(words)
    if len(pattern) <= SHORT:
        return pattern
    # An unusual long pattern: cut between words, never inside one; the tooltip has it all.
    cut = pattern[:SHORT].rsplit(" ", 1)[0] if " " in pattern[:SHORT] else pattern[:SHORT]
    return cut.rstrip() + "…"
