"""Exclusion rules: which windows must never be captured, and what to do when one is on screen.

A rule matches a window's app name, title and/or process option (all given must match), glob or
regex, case-insensitively. A title pattern also matches the names the accessibility bus gives the
window (Chromium's say "(Incognito)" where its X11 title does not); `process_flag` matches an
option name the window's process was started with ("--incognito"); `except_title` lets a window
whose title matches it go free (an allow-list). Globs match the whole string ("*Private
Browsing*"); regexes match anywhere in it (re.search), so anchor them (^...$) when you mean the
whole string.

Actions:
- `redact`: the window's visible area is blacked out before anything is encoded; the rest of the
  screen is captured, and the window's title and app name never reach the metadata.
- `skip`: while a matching window is *focused* the tick is skipped altogether (the user is working
  in it: what they type or paste may show up in neighbouring windows). A matching window that is
  visible but not focused is redacted, so a `skip` rule is never weaker than a `redact` rule.

Shipped defaults: password managers are `skip` (autotype and copy/paste put the secret in the
window next to them while the manager has focus), their web vaults in a browser too (by the page
title the browser shows), private-browsing windows are `redact` (the rest of the desktop is ordinary
work, and the private window is black wherever it is).
"""

from __future__ import annotations

import fnmatch
import functools
import re
from collections.abc import Iterable, Sequence
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

__all__ = [
    "BROWSER_APPS",
    "ExclusionRule",
    "MatchType",
    "RuleAction",
    "browser_app_regex",
    "chromium_family_app_regex",
    "default_rules",
    "match_rule",
    "matching_rules",
    "private_browser_rules",
    "private_title_regex",
    "vault_title_regex",
]


class RuleAction(StrEnum):
    """What a matching window causes: no capture this tick, or a blacked-out window."""

    SKIP = "skip"
    REDACT = "redact"


class MatchType(StrEnum):
    """How a rule's patterns are read."""

    GLOB = "glob"
    REGEX = "regex"


@functools.lru_cache(maxsize=1024)
def _compile(pattern: str, match: MatchType) -> re.Pattern[str]:
    if match is MatchType.GLOB:
        return re.compile(fnmatch.translate(pattern), re.IGNORECASE)
    return re.compile(pattern, re.IGNORECASE)


class ExclusionRule(BaseModel):
    """One exclusion: patterns for the app name and/or the window title, and an action."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    app: str | None = None
    title: str | None = None
    process_flag: str | None = None
    except_title: str | None = None
    match: MatchType = MatchType.GLOB
    action: RuleAction = RuleAction.REDACT
    enabled: bool = True

    @field_validator("name")
    @classmethod
    def _name_not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("a rule needs a name (shown in the audit log and `exclusions list`)")
        return value.strip()

    @field_validator("app", "title", "process_flag", "except_title")
    @classmethod
    def _blank_is_none(cls, value: str | None) -> str | None:
        # An empty pattern would match nothing (glob) or everything (regex): both are surprises.
        if value is not None and not value.strip():
            return None
        return value

    @model_validator(mode="after")
    def _check_patterns(self) -> ExclusionRule:
        if self.app is None and self.title is None and self.process_flag is None:
            raise ValueError(
                f"rule {self.name!r} has neither an app nor a title pattern; "
                "give at least one (for example app = 'KeePassXC' or title = '*Incognito*')"
            )
        if self.match is MatchType.REGEX:
            patterns = (
                ("app", self.app),
                ("title", self.title),
                ("process_flag", self.process_flag),
                ("except_title", self.except_title),
            )
            for field, pattern in patterns:
                if pattern is None:
                    continue
                try:
                    _compile(pattern, self.match)
                except re.error as exc:
                    raise ValueError(
                        f"rule {self.name!r}: {field} pattern {pattern!r} is not a valid regular "
                        f"expression ({exc}); fix it, or set match = 'glob' for * and ? wildcards"
                    ) from None
        return self

    def _found(self, pattern: str, values: Iterable[str | None]) -> bool:
        compiled = _compile(pattern, self.match)
        search = compiled.match if self.match is MatchType.GLOB else compiled.search
        return any(value is not None and search(value) is not None for value in values)

    def matches(
        self,
        app_name: str | None,
        title: str | None,
        *,
        accessible_names: Sequence[str] = (),
        process_flags: Iterable[str] = (),
    ) -> bool:
        """True when this enabled rule matches a window with these facts.

        `accessible_names` count as titles for `title` (never for `except_title`: an allow-list
        frees a window only by what its own title says).
        """
        if not self.enabled:
            return False
        if self.app is not None and not self._found(self.app, (app_name,)):
            return False
        if self.title is not None and not self._found(self.title, (title, *accessible_names)):
            return False
        if self.process_flag is not None and not self._found(self.process_flag, process_flags):
            return False
        return self.except_title is None or not self._found(self.except_title, (title,))


def matching_rules(
    rules: Sequence[ExclusionRule],
    app_name: str | None,
    title: str | None,
    *,
    accessible_names: Sequence[str] = (),
    process_flags: Iterable[str] = (),
) -> list[ExclusionRule]:
    """Every enabled rule that matches, in the order given."""
    flags = tuple(process_flags)
    return [
        rule
        for rule in rules
        if rule.matches(app_name, title, accessible_names=accessible_names, process_flags=flags)
    ]


def match_rule(
    rules: Sequence[ExclusionRule],
    app_name: str | None,
    title: str | None,
    *,
    accessible_names: Sequence[str] = (),
    process_flags: Iterable[str] = (),
) -> ExclusionRule | None:
    """The rule that decides for this window: the first matching `skip` rule, else the first match.

    `skip` wins over `redact` because it is the stricter action for a focused window.
    """
    found = matching_rules(
        rules, app_name, title, accessible_names=accessible_names, process_flags=process_flags
    )
    for rule in found:
        if rule.action is RuleAction.SKIP:
            return rule
    return found[0] if found else None


# Title markers of private windows, by UI language. Browsers put the marker in the window title
# (Firefox "… — Mozilla Firefox Private Browsing" / "(Privater Modus)", Chrome "(Incognito)",
# Edge "[InPrivate]", Brave/Opera/Vivaldi "(Private)"); a false positive only blacks out a window.
# Chromium on Linux marks only the accessible name, with its own words ("$1 (anonym)" in German,
# "$1 (Modo anônimo)" in Brazilian Portuguese: resource 11525 of its locales/*.pak).
PRIVATE_MARKERS: dict[str, tuple[str, ...]] = {
    "en": ("Private Browsing", "Incognito", "InPrivate", "(Private)", "Private Window"),
    "zh": ("隐私浏览", "无痕", "隱私瀏覽", "無痕", "私密浏览", "隐身"),
    "hi": ("निजी ब्राउज़िंग", "गुप्त"),
    "es": ("Navegación privada", "Incógnito", "Ventana privada", "(Privado)"),
    "fr": ("Navigation privée", "Fenêtre privée", "(Privé)"),
    "ar": ("التصفح الخاص", "التصفح المتخفي", "نافذة خاصة"),
    "bn": ("ব্যক্তিগত ব্রাউজিং", "ছদ্মবেশী"),
    "pt": (
        "Navegação privativa",
        "Navegação privada",
        "anônima",
        "anónima",
        "anônimo",
        "Janela privada",
    ),
    "ru": ("Приватный просмотр", "Инкогнито", "Приватное окно", "Приватный режим"),
    "ja": (
        "プライベートブラウジング",
        "プライベート ブラウズ",
        "シークレット",
        "プライベートウィンドウ",
    ),
    "de": (
        "Privater Modus",
        "Inkognito",
        "Privates Surfen",
        "Privates Fenster",
        "(Privat)",
        "(anonym)",
    ),
    "ko": ("사생활 보호 모드", "시크릿", "개인 정보 보호 브라우징"),
    "it": ("Navigazione anonima", "Navigazione privata", "in incognito", "Finestra privata"),
    "tr": ("Gizli Gezinti", "Gizli pencere", "Gizli mod", "Özel Gezinti"),
    "pl": ("Tryb prywatny", "Przeglądanie prywatne", "Okno prywatne"),
    "nl": ("Privénavigatie", "Privévenster", "Incognitovenster"),
}

# App names the browsers report: X11 WM_CLASS class, macOS owner name, Windows image name.
BROWSER_APPS: dict[str, str] = {
    "Firefox": r"firefox|librewolf|^navigator$",
    "Chrome": r"google[- ]?chrome|^chrome$",
    "Chromium": r"chromium",
    "Edge": r"microsoft[- ]?edge|^msedge$",
    "Brave": r"brave",
    "Opera": r"^opera",
    "Vivaldi": r"vivaldi",
    "Safari": r"^safari$",
}

PASSWORD_MANAGERS: dict[str, str] = {
    "1Password": r"^1password",
    "Bitwarden": r"bitwarden",
    "KeePass / KeePassXC": r"keepass",
    "LastPass": r"lastpass",
    "Dashlane": r"dashlane",
    "Enpass": r"enpass",
    "Proton Pass": r"proton[- ]?pass",
    "Keychain Access": r"keychain access|keychainaccess",
    "Seahorse (Passwords and Keys)": r"seahorse",
}

# Web vaults of password managers, by the page title the browser puts in its window title
# ("My Vault | Bitwarden — Mozilla Firefox", "Bitwarden Web vault - Google Chrome", "1Password",
# "My LastPass Vault"). The product must *be* the page's name: alone, after a short section name
# and a separator ("Vaults | "), or followed by "Web vault"/"Vault"/"Web app"; then only the
# browser's own suffix. A page that merely mentions one ("1Password review", "Why I left
# LastPass | Blog") stays captured; a page whose own name ends in one ("Compare - 1Password")
# is blacked out: on privacy a false positive is the cheaper mistake.
PASSWORD_VAULT_SITES: dict[str, str] = {
    "Bitwarden": r"Bitwarden",
    "1Password": r"1Password",
    "LastPass": r"LastPass",
    "Proton Pass": r"Proton ?Pass",
    "Dashlane": r"Dashlane",
    "Keeper": r"Keeper(?:®)?(?: Security)?",
}


# Browsers of the Chromium family: started with one of these options, every window is private.
CHROMIUM_FAMILY = ("Chrome", "Chromium", "Edge", "Brave", "Opera", "Vivaldi")
PRIVATE_LAUNCH_FLAG = r"^--?(incognito|inprivate|private-window|private)$"


def vault_title_regex() -> str:
    """The shipped title pattern of password-manager web vaults in a browser window."""
    products = "|".join(PASSWORD_VAULT_SITES.values())
    section = r"(?:[^|–—-]{0,80}\s[|–—-]\s)?"
    page = rf"{section}(?:My )?(?:{products})(?: (?:Web )?(?:Vault|App))?"
    return rf"^{page}(?:\s[-–—]\s.*)?$"


def chromium_family_app_regex() -> str:
    """The app names of the Chromium-family browsers, as one pattern."""
    return "|".join(BROWSER_APPS[label] for label in CHROMIUM_FAMILY)


def browser_app_regex() -> str:
    """The app names of every listed browser, as one pattern."""
    return "|".join(BROWSER_APPS.values())


def private_title_regex() -> str:
    """The shipped title pattern of private-browsing windows (every marker, every language)."""
    markers = sorted({m for group in PRIVATE_MARKERS.values() for m in group}, key=len)
    return "|".join(re.escape(marker) for marker in reversed(markers))


def default_rules() -> list[ExclusionRule]:
    """The shipped exclusions: password managers and their web vaults (skip), private browsing
    windows (redact)."""
    rules = [
        ExclusionRule(
            name=f"Password manager: {label}",
            app=pattern,
            match=MatchType.REGEX,
            action=RuleAction.SKIP,
        )
        for label, pattern in PASSWORD_MANAGERS.items()
    ]
    rules.append(
        ExclusionRule(
            name="Password manager: web vaults",
            app=browser_app_regex(),
            title=vault_title_regex(),
            match=MatchType.REGEX,
            action=RuleAction.SKIP,
        )
    )
    title = private_title_regex()
    rules += [
        ExclusionRule(
            name=f"Private browsing: {label}",
            app=pattern,
            title=title,
            match=MatchType.REGEX,
            action=RuleAction.REDACT,
        )
        for label, pattern in BROWSER_APPS.items()
    ]
    rules.append(
        ExclusionRule(
            name="Private browsing: started private (Chromium family)",
            app=chromium_family_app_regex(),
            process_flag=PRIVATE_LAUNCH_FLAG,
            match=MatchType.REGEX,
            action=RuleAction.REDACT,
        )
    )
    return rules


def private_browser_rules(
    browsers: Sequence[str], allowed_titles: Sequence[str]
) -> list[ExclusionRule]:
    """Rules that black out every window of these browsers (labels of BROWSER_APPS) whose title
    matches none of `allowed_titles` (globs): the safe setting where no private-window signal
    holds. Unknown labels raise ValueError naming the known ones."""
    unknown = [label for label in browsers if label not in BROWSER_APPS]
    if unknown:
        raise ValueError(
            f"unknown browser {', '.join(map(repr, unknown))}; "
            f"choose among {', '.join(BROWSER_APPS)}"
        )
    allowed = "|".join(f"(?:{fnmatch.translate(glob)})" for glob in allowed_titles)
    return [
        ExclusionRule(
            name=f"Private unless allowed: {label}",
            app=BROWSER_APPS[label],
            except_title=f"^(?:{allowed})" if allowed else None,
            match=MatchType.REGEX,
            action=RuleAction.REDACT,
        )
        for label in dict.fromkeys(browsers)
    ]
