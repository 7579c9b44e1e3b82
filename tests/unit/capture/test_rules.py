"""Exclusion rules: validation messages, matching, and the shipped defaults."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from jarvis_agent.capture.rules import (
    ExclusionRule,
    MatchType,
    RuleAction,
    default_rules,
    match_rule,
    private_browser_rules,
)


def test_rule_without_any_pattern_is_rejected_with_its_name() -> None:
    """A rule with neither app nor title says which rule and what to add."""
    with pytest.raises(ValidationError) as caught:
        ExclusionRule(name="Empty")
    message = str(caught.value)
    assert "'Empty'" in message
    assert "app" in message
    assert "title" in message


def test_bad_regex_names_the_rule_the_field_and_the_pattern() -> None:
    """An invalid regular expression is reported with the rule, the field and the pattern."""
    with pytest.raises(ValidationError) as caught:
        ExclusionRule(name="Bank", title="(unclosed", match=MatchType.REGEX)
    message = str(caught.value)
    assert "'Bank'" in message
    assert "title pattern '(unclosed'" in message
    assert "glob" in message


def test_glob_matches_whole_title_case_insensitively() -> None:
    """Globs are anchored and ignore case: '*bank*' matches 'My BANK account'."""
    rule = ExclusionRule(name="Bank", title="*bank*")
    assert rule.matches("firefox", "My BANK account")
    assert not rule.matches("firefox", "Riverside")
    assert not ExclusionRule(name="Exact", title="bank").matches("x", "bank account")


def test_regex_searches_anywhere_case_insensitively() -> None:
    """Regexes match anywhere in the string, ignoring case."""
    rule = ExclusionRule(name="Mail", app="thunder", match=MatchType.REGEX)
    assert rule.matches("Thunderbird", None)
    assert not rule.matches("Evolution", None)


def test_both_patterns_must_match_and_missing_values_do_not() -> None:
    """App and title together are an AND; a window without a title never matches a title rule."""
    rule = ExclusionRule(name="Both", app="firefox", title="*secret*")
    assert rule.matches("firefox", "the secret page")
    assert not rule.matches("chromium", "the secret page")
    assert not rule.matches("firefox", None)


def test_disabled_rule_never_matches() -> None:
    """A disabled rule is kept but ignored."""
    rule = ExclusionRule(name="Off", app="*", enabled=False)
    assert match_rule([rule], "anything", "any title") is None


def test_skip_rule_wins_over_an_earlier_redact_rule() -> None:
    """When several rules match, the stricter `skip` decides."""
    redact = ExclusionRule(name="R", app="keepassxc")
    skip = ExclusionRule(name="S", title="*kdbx*", action=RuleAction.SKIP)
    assert match_rule([redact, skip], "KeePassXC", "Passwords.kdbx") == skip
    assert match_rule([redact], "KeePassXC", "Passwords.kdbx") == redact


@pytest.mark.parametrize(
    "app",
    [
        "1Password",
        "Bitwarden",
        "KeePass",
        "KeePassXC",
        "keepassxc",
        "LastPass",
        "Dashlane",
        "Enpass",
        "Proton Pass",
        "Keychain Access",
        "Seahorse",
    ],
)
def test_default_rules_skip_every_listed_password_manager(app: str) -> None:
    """Each password manager named in the issue is caught by a shipped skip rule."""
    rule = match_rule(default_rules(), app, "Vault")
    assert rule is not None
    assert rule.action is RuleAction.SKIP


# Window titles of private windows as the browsers show them, by UI language.
PRIVATE_TITLES = [
    ("firefox", "Bank — Mozilla Firefox Private Browsing"),  # en
    ("firefox", "Bank — Mozilla Firefox (Privater Modus)"),  # de
    ("firefox", "Banque — Mozilla Firefox (Navigation privée)"),  # fr
    ("firefox", "Banco — Mozilla Firefox (Navegación privada)"),  # es
    ("firefox", "Banco — Mozilla Firefox (Navegação privativa)"),  # pt-BR
    ("firefox", "Banca — Mozilla Firefox (Navigazione anonima)"),  # it
    ("firefox", "Банк — Mozilla Firefox (Приватный просмотр)"),  # ru
    ("firefox", "銀行 — Mozilla Firefox (プライベートブラウジング)"),  # ja
    ("firefox", "银行 — Mozilla Firefox (隐私浏览)"),  # zh-CN
    ("firefox", "은행 — Mozilla Firefox (사생활 보호 모드)"),  # ko
    ("firefox", "Bank — Mozilla Firefox (Tryb prywatny)"),  # pl
    ("firefox", "Banka — Mozilla Firefox (Gizli Gezinti)"),  # tr
    ("Google-chrome", "New Tab - Google Chrome (Incognito)"),
    ("Google-chrome", "Neuer Tab - Google Chrome (Inkognito)"),
    ("Google Chrome", "Nouvel onglet - Google Chrome (navigation privée)"),
    ("chrome", "Nueva pestaña - Google Chrome (Incógnito)"),
    ("Google-chrome", "Новая вкладка - Google Chrome (Инкогнито)"),
    ("Google-chrome", "新しいタブ - Google Chrome (シークレット)"),
    ("Google-chrome", "新标签页 - Google Chrome (无痕模式)"),
    ("Google-chrome", "새 탭 - Google Chrome (시크릿 모드)"),
    ("Chromium", "New Tab - Chromium (Incognito)"),
    ("Microsoft-edge", "New InPrivate tab - [InPrivate] - Microsoft Edge"),
    ("msedge", "Neuer InPrivate-Tab - [InPrivate] - Microsoft Edge"),
    ("Brave-browser", "New Private Tab - Brave (Private)"),
    ("Opera", "Private browsing - Opera"),
    ("Vivaldi-stable", "Private Window - Vivaldi"),
    ("Safari", "Private Browsing"),
    ("Safari", "Privates Surfen"),
]


@pytest.mark.parametrize(("app", "title"), PRIVATE_TITLES)
def test_default_rules_redact_private_browsing_windows(app: str, title: str) -> None:
    """Private windows of every listed browser, in many UI languages, are redacted by default."""
    rule = match_rule(default_rules(), app, title)
    assert rule is not None, f"{app}: {title!r} was not excluded"
    assert rule.action is RuleAction.REDACT


@pytest.mark.parametrize(
    ("app", "title"),
    [
        ("firefox", "Bank — Mozilla Firefox"),
        ("Google-chrome", "Inbox - Google Chrome"),
        ("XTerm", "Incognito mode notes"),  # not a browser: the marker alone is not enough
        ("code", "policy.py - Visual Studio Code"),
    ],
)
def test_default_rules_leave_ordinary_windows_alone(app: str, title: str) -> None:
    """Ordinary browser windows and other apps are not excluded by the defaults."""
    assert match_rule(default_rules(), app, title) is None


VAULT_TITLES = [
    ("firefox", "My Vault | Bitwarden — Mozilla Firefox"),
    ("firefox", "Vaults | Bitwarden — Mozilla Firefox"),
    ("Google-chrome", "Bitwarden Web vault - Google Chrome"),
    ("firefox", "1Password — Mozilla Firefox"),
    ("Google-chrome", "LastPass - Google Chrome"),
    ("Chromium", "My LastPass Vault - Chromium"),
    ("firefox", "Proton Pass — Mozilla Firefox"),
    ("Brave-browser", "Dashlane - Brave"),
    ("Microsoft-edge", "Keeper® Web Vault - Personal - Microsoft\u200b Edge"),
    ("Vivaldi-stable", "Keeper - Vivaldi"),
]


@pytest.mark.parametrize(("app", "title"), VAULT_TITLES)
def test_default_rules_skip_password_manager_web_vaults(app: str, title: str) -> None:
    """A password manager's web vault in a browser is excluded like its desktop app (skip)."""
    rule = match_rule(default_rules(), app, title)
    assert rule is not None, f"{app}: {title!r} was not excluded"
    assert rule.action is RuleAction.SKIP
    assert rule.name == "Password manager: web vaults"


@pytest.mark.parametrize(
    "title",
    [
        "1Password review: still the best — The Verge — Mozilla Firefox",
        "Why I left LastPass | Blog — Mozilla Firefox",
        "Password managers compared: 1Password vs Bitwarden — Mozilla Firefox",
        "Goal Keeper - Wikipedia — Mozilla Firefox",
    ],
)
def test_pages_that_mention_a_password_manager_stay_captured(title: str) -> None:
    """A page that merely mentions a password manager in its title is not a vault (the
    trade-off: only titles whose page *is* the product are excluded)."""
    assert match_rule(default_rules(), "firefox", title) is None


def test_default_rules_cover_at_least_ten_languages() -> None:
    """The private-browsing markers cover at least the ten most used UI languages."""
    from jarvis_agent.capture.rules import PRIVATE_MARKERS

    assert len(PRIVATE_MARKERS) >= 10
    assert {"en", "zh", "hi", "es", "fr", "ar", "pt", "ru", "ja", "de"} <= set(PRIVATE_MARKERS)


def test_rules_round_trip_through_plain_data() -> None:
    """Rules load from and dump to plain dicts, as the TOML config stores them."""
    rules = default_rules()
    again = [ExclusionRule.model_validate(rule.model_dump(mode="json")) for rule in rules]
    assert again == rules


def test_chromium_private_window_is_matched_by_its_accessible_name() -> None:
    """Chromium's X11 title has no marker; its accessible name does, and the default rules read
    it (English and German), while a normal window's accessible name matches nothing."""
    rules = default_rules()
    title = "Bank statement - Chromium"
    assert match_rule(rules, "Chromium", title) is None
    for name in ("Bank statement - Chromium (Incognito)", "Kontoauszug - Chromium (Inkognito)"):
        rule = match_rule(rules, "Chromium", title, accessible_names=(name,))
        assert rule is not None
        assert rule.action is RuleAction.REDACT
    assert match_rule(rules, "Chromium", title, accessible_names=(title,)) is None


def test_browser_started_incognito_is_matched_by_its_command_line() -> None:
    """A Chromium-family browser started with --incognito (or Edge's --inprivate) is private in
    every window; other options, and other apps with the same option, are not matched."""
    rules = default_rules()
    launches = (
        ("Chromium", "--incognito"),
        ("Google-chrome", "--incognito"),
        ("Microsoft-edge", "--inprivate"),
        ("Brave-browser", "--incognito"),
    )
    for app, flag in launches:
        rule = match_rule(rules, app, "Bank", process_flags={"--no-sandbox", flag})
        assert rule is not None, app
        assert rule.name == "Private browsing: started private (Chromium family)"
    assert match_rule(rules, "Chromium", "Bank", process_flags={"--incognito-x"}) is None
    assert match_rule(rules, "XTerm", "Bank", process_flags={"--incognito"}) is None


def test_private_browser_setting_blacks_out_all_but_allowed_titles() -> None:
    """ "Every Chromium window is private unless its title is allowed": allowed globs free a
    window by its own title only (never by an accessible name); other browsers are untouched."""
    [rule] = private_browser_rules(["Chromium"], ["*Jira*", "Docs - *"])
    assert rule.matches("Chromium", "Bank - Chromium")
    assert rule.matches("Chromium", None)
    assert not rule.matches("Chromium", "Sprint board - Jira - Chromium")
    assert not rule.matches("Chromium", "Docs - Design")
    assert rule.matches("Chromium", "My Docs - Design")
    assert rule.matches("Chromium", "Bank", accessible_names=("Jira",))
    assert not rule.matches("firefox", "Bank")
    [everything] = private_browser_rules(["Chromium"], [])
    assert everything.matches("Chromium", "Sprint board - Jira - Chromium")


def test_private_browser_setting_refuses_unknown_browsers_by_name() -> None:
    """An unknown browser label is refused with the known ones listed."""
    with pytest.raises(ValueError, match="unknown browser 'Chromeum'; choose among Firefox"):
        private_browser_rules(["Chromeum"], [])


@pytest.mark.parametrize(
    "suffix",
    [
        "(Incognito)", "(التصفح المتخفي)", "(ছদ্মবেশী)", "(anonym)", "(incógnito)",
        "(Navigation privée)", "(गुप्त)", "(In incognito)", "（シークレット モード）",
        "(시크릿 모드)", "(Modo anônimo)", "(Navegação anónima)", "(инкогнито)", "(Gizli mod)",
        "（无痕）", "(無痕模式)",
    ],
)  # fmt: skip
def test_chromium_accessible_name_suffix_is_known_in_each_language(suffix: str) -> None:
    """Chromium 156's own "$1 (Incognito)" in each language the markers cover (read from its
    locales/*.pak) marks the window as private."""
    title = "Kontoauszug - Chromium"
    assert match_rule(default_rules(), "Chromium", title, accessible_names=(f"{title} {suffix}",))
