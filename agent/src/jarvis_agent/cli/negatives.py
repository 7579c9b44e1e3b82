"""Commands whose arguments may be negative numbers or durations ("-5", "-1h").

click reads "-5" as an option and answers "No such option '-5'", and "-1h" as "-1" plus "-h"
(help). For a command that takes a number or a duration that is a wrong value, not an option:
this command class ends option parsing before the first such argument, so the command itself
says what is wrong with it.
"""

from __future__ import annotations

import re

import click

__all__ = ["NegativeValuesCommand"]

_NEGATIVE = re.compile(r"-\.?\d")


class NegativeValuesCommand(click.Command):
    """A click command that takes "-5" or "-1h" as an argument, not as options."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        for index, arg in enumerate(args):
            if arg == "--":
                break
            if _NEGATIVE.match(arg):
                args = [*args[:index], "--", *args[index:]]
                break
        return super().parse_args(ctx, args)
