"""`jarvis` commands: config show|set|unset|edit|path, exclusions list|add|remove|test."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import click
import tomlkit

from jarvis_agent.capture.rules import ExclusionRule, MatchType, RuleAction, match_rule
from jarvis_agent.cli.negatives import NegativeValuesCommand
from jarvis_agent.config import (
    AgentConfig,
    ConfigConflictError,
    ConfigError,
    ConfigPatch,
    ConfigStore,
)
from jarvis_agent.control import AgentNotRunningError, ControlClient, ControlError, socket_path
from jarvis_agent.paths import agent_paths

__all__ = ["register"]


def _store() -> ConfigStore:
    return ConfigStore(agent_paths().config_file)


def _load(store: ConfigStore) -> AgentConfig:
    try:
        return store.load()
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None


def _tell_agent() -> None:
    """Ask a running agent to re-read the file; say what happens when none runs."""
    client = ControlClient(socket_path(agent_paths()), timeout=10)
    try:
        reply = client.request("reload-config")
    except AgentNotRunningError:
        click.echo("The agent is not running; it will use this when it starts.")
        return
    except ControlError as exc:
        click.echo(f"Saved, but the running agent could not be told: {exc}", err=True)
        return
    if reply.ok:
        click.echo("The running agent now uses it.")
    else:
        click.echo(f"Saved, but the running agent kept its settings: {reply.message}", err=True)


def _config_toml(config: AgentConfig) -> str:
    data: dict[str, object] = config.model_dump(mode="json", exclude_none=True)
    return tomlkit.dumps({k: _without_none(v) for k, v in data.items()})


def _sizes_in_words(text: str, config: AgentConfig) -> str:
    """Each byte-size line with its size in words: `max_bytes = 2147483648  # 2.0 GiB`."""
    from jarvis_agent.config import parse_size
    from jarvis_sync.sizes import format_size

    for section, info in AgentConfig.model_fields.items():
        assert info.annotation is not None
        for name, field in info.annotation.model_fields.items():
            if any(getattr(m, "func", None) is parse_size for m in field.metadata):
                value = getattr(getattr(config, section), name)
                line = f"{name} = {value}"
                text = text.replace(f"\n{line}\n", f"\n{line}  # {format_size(value)}\n", 1)
    return text


def _without_none(value: object) -> object:
    if isinstance(value, dict):
        return {k: _without_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_none(v) for v in value]
    return value


@click.group("config")
def config_group() -> None:
    """Show and change the agent's settings (a TOML file; JARVIS_<SECTION>__<KEY> overrides)."""


@config_group.command("show")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of TOML.")
@click.option("--rules/--no-rules", default=False, help="Include the exclusion rules.")
def config_show(as_json: bool, rules: bool) -> None:
    """Print the settings in effect (file, then environment overrides, then defaults)."""
    store = _store()
    config = _load(store)
    if as_json:
        click.echo(config.model_dump_json(indent=2))
        return
    shown = (
        config
        if rules
        else config.model_copy(update={"privacy": config.privacy.model_copy(update={"rules": []})})
    )
    text = _config_toml(shown)
    if not rules:
        text = text.replace(
            "rules = []",
            f"# rules: {len(config.privacy.rules)} exclusion rules; see `jarvis exclusions list`",
        )
    text = _sizes_in_words(text, config)
    click.echo(f"# {store.path}{'' if store.path.exists() else ' (not created yet: defaults)'}")
    overrides = store.env_overrides()
    for section, values in overrides.items():
        for key in values:
            click.echo(f"# {section}.{key} comes from JARVIS_{section.upper()}__{key.upper()}")
    click.echo(text.rstrip())


@config_group.command("set", cls=NegativeValuesCommand)
@click.argument("key")
@click.argument("value")
def config_set(key: str, value: str) -> None:
    """Set KEY (section.name, e.g. capture.interval_seconds) to VALUE; `none` unsets it."""
    store = _store()
    try:
        config = store.set_value(key, value)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    shown: object = config
    for part in key.split("."):
        shown = getattr(shown, part.strip())
    if hasattr(shown, "model_dump"):
        shown = shown.model_dump(mode="json")
    click.echo(
        f"{key} = {json.dumps(shown, default=str, ensure_ascii=False)} (saved to {store.path})"
    )
    _tell_agent()


@config_group.command("unset")
@click.argument("key")
def config_unset(key: str) -> None:
    """Return KEY to its default."""
    store = _store()
    try:
        store.unset_value(key)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"{key} is back to its default (saved to {store.path})")
    _tell_agent()


@config_group.command("path")
def config_path() -> None:
    """Print where the config file is."""
    click.echo(str(_store().path))


@config_group.command("edit")
def config_edit() -> None:
    """Edit the file in $VISUAL or $EDITOR; it is only saved if it is valid."""
    store = _store()
    original = store.read_text()
    current = original or _TEMPLATE
    while True:
        edited = click.edit(current, extension=".toml", require_save=True)
        if edited is None:
            click.echo("No changes.")
            return
        problem = _check_text(edited)
        if problem is None:
            break
        click.echo(problem, err=True)
        if not click.confirm("Edit again? (No keeps the file as it was)", default=True):
            raise click.ClickException("the config file was left unchanged")
        current = edited
    try:
        store.write_text(edited, expected=original)
    except ConfigConflictError as exc:
        kept = store.path.with_name(store.path.name + ".edited")
        kept.write_text(edited, encoding="utf-8")
        kept.chmod(0o600)
        raise click.ClickException(
            f"{exc}. Your text is in {kept}; run `jarvis config edit` again and copy your "
            "changes over."
        ) from None
    click.echo(f"Saved {store.path}.")
    _tell_agent()


_TEMPLATE = """\
# Jarvis agent settings. Only what you set here differs from the defaults;
# `jarvis config show` prints everything in effect.
#
# [capture]
# interval_seconds = 15
#
# [privacy]
# idle_threshold_seconds = 300
# omit_titles = false
"""


def _check_text(text: str) -> str | None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "config.toml"
        path.write_text(text, encoding="utf-8")
        try:
            ConfigStore(path, environ={}).load_file()
        except ConfigError as exc:
            return str(exc).replace(str(path), "the edited file")
    return None


# --- exclusions -------------------------------------------------------------------------------


@click.group("exclusions")
def exclusions_group() -> None:
    """Windows that are never captured: list, add, remove and test the rules."""


@exclusions_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def exclusions_list(as_json: bool) -> None:
    """Print the exclusion rules, numbered."""
    rules = _load(_store()).privacy.rules
    if as_json:
        click.echo(json.dumps([r.model_dump(mode="json") for r in rules], indent=2))
        return
    if not rules:
        click.echo("No exclusion rules: every window may be captured.")
        return
    for number, rule in enumerate(rules, 1):
        state = "" if rule.enabled else " (disabled)"
        click.echo(f"{number:3}. [{rule.action.value}] {rule.name}{state}: {_patterns(rule)}")


@exclusions_group.command("add")
@click.argument("name")
@click.option("--app", help="Pattern for the application name (X11: the WM_CLASS class).")
@click.option("--title", help="Pattern for the window title.")
@click.option("--regex", is_flag=True, help="Patterns are regular expressions (default: globs).")
@click.option(
    "--action",
    type=click.Choice([a.value for a in RuleAction]),
    default=RuleAction.REDACT.value,
    show_default=True,
    help="redact: black the window out; skip: no capture while it is focused.",
)
def exclusions_add(name: str, app: str | None, title: str | None, regex: bool, action: str) -> None:
    """Add a rule NAME matching --app and/or --title."""
    store = _store()
    config = _load(store)
    if any(rule.name == name for rule in config.privacy.rules):
        raise click.ClickException(
            f"a rule named {name!r} exists already; pick another name or remove it first"
        )
    try:
        rule = ExclusionRule(
            name=name,
            app=app,
            title=title,
            match=MatchType.REGEX if regex else MatchType.GLOB,
            action=RuleAction(action),
        )
    except ValueError as exc:
        raise click.ClickException(_first_error(exc)) from None
    _save_rules(store, ConfigPatch.add_rule(rule))
    click.echo(f"Added rule {name!r} ({action}).")
    _tell_agent()


@exclusions_group.command("remove")
@click.argument("name_or_number")
def exclusions_remove(name_or_number: str) -> None:
    """Remove the rule with this name, or this number in `exclusions list`."""
    store = _store()
    config = _load(store)
    rules = list(config.privacy.rules)
    if name_or_number.isdigit() and 1 <= int(name_or_number) <= len(rules):
        removed = rules.pop(int(name_or_number) - 1)
    else:
        found = [r for r in rules if r.name.casefold() == name_or_number.casefold()]
        if not found:
            raise click.ClickException(
                f"no rule is named or numbered {name_or_number!r}; see `jarvis exclusions list`"
            )
        removed = found[0]
        rules.remove(removed)
    _save_rules(store, ConfigPatch.remove_rule(removed))
    click.echo(f"Removed rule {removed.name!r} [{removed.action.value}]: {_patterns(removed)}.")
    _tell_agent()


@exclusions_group.command("test")
@click.argument("app")
@click.argument("title")
def exclusions_test(app: str, title: str) -> None:
    """Say what happens to a window with this APP name and TITLE."""
    rules = _load(_store()).privacy.effective_rules()
    rule = match_rule(rules, app or None, title or None)
    if rule is None:
        click.echo(f"No rule matches app {app!r}, title {title!r}: it is captured normally.")
        return
    if rule.action is RuleAction.SKIP:
        effect = "no capture while it is focused; blacked out when it is in the background"
    else:
        effect = "blacked out wherever it is visible"
    click.echo(f"Rule {rule.name!r} ({rule.action.value}) matches: {effect}.")
    click.echo("Its title and app name are left out of the capture's metadata.")


def _patterns(rule: ExclusionRule) -> str:
    """What a rule matches: "app glob 'keepassxc*', title regex '...'"."""
    return ", ".join(
        f"{what} {rule.match.value} {_short(pattern)}"
        for what, pattern in (("app", rule.app), ("title", rule.title))
        if pattern is not None
    )


def _short(pattern: str, limit: int = 60) -> str:
    text = repr(pattern)
    return text if len(text) <= limit else text[: limit - 4] + "...'"


def _save_rules(store: ConfigStore, patch: ConfigPatch) -> None:
    # Applied to the file as it is when written: a rule added meanwhile elsewhere stays.
    try:
        store.update(patch, where="exclusions")
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None


def _first_error(exc: ValueError) -> str:
    errors = getattr(exc, "errors", None)
    if callable(errors):
        return "; ".join(str(e["msg"]).removeprefix("Value error, ") for e in errors())
    return str(exc)


def register(cli: click.Group) -> None:
    """Add this module's commands to `cli`."""
    cli.add_command(config_group)
    cli.add_command(exclusions_group)
