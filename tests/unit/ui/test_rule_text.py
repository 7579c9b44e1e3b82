"""Patterns in words, as the Privacy table shows them."""

from __future__ import annotations

from jarvis_ui.settings.rule_text import SHORT, describe_pattern, pattern_words


def test_a_list_of_words_reads_as_the_words() -> None:
    """A regex of plain alternatives shows its words; a long list ends in "and N more"."""
    assert describe_pattern(r"^signal$|element\.io|matrix", "regex") == "signal, element.io, matrix"
    many = "|".join(f"word{i}" for i in range(30))
    shown = describe_pattern(many, "regex")
    assert shown.startswith("word0, word1")
    assert shown.endswith(" more")
    assert len(shown) <= SHORT
    assert pattern_words(many, "regex") == [f"word{i}" for i in range(30)]


def test_other_patterns_are_shown_whole_or_cut_between_words() -> None:
    """Globs and short regexes show as written; a long one is cut at a space, with an ellipsis."""
    assert describe_pattern("*Online Banking*", "glob") == "*Online Banking*"
    assert describe_pattern(r"bank(ing)?\s+portal", "regex") == r"bank(ing)?\s+portal"
    long = "(?:Quarterly|Annual) (?:report|review) of the finance department for the board"
    shown = describe_pattern(long, "regex")
    assert shown.endswith("…")
    assert long.startswith(shown.removesuffix("…"))
    assert long[len(shown) - 1] == " "
    assert describe_pattern(None, "glob") == "any"
