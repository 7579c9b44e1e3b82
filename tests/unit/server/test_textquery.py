"""The search query grammar, its compilation per backend, and the highlight of matches."""

from __future__ import annotations

import pytest

from jarvis_server.textquery import (
    Phrase,
    QueryError,
    highlight,
    parse_query,
    to_fts5,
    to_tsquery,
    words_of,
)


def test_words_phrases_prefixes_and_apps_are_parsed() -> None:
    """Bare words, quoted phrases, prefixes and app: filters; case and diacritics folded;
    punctuation inside a word makes a phrase of its parts."""
    query = parse_query('Café "Quarterly Report" invo* e-mail app:Firefox app:"Visual Studio"')
    assert query.phrases == (
        Phrase(("cafe",)),
        Phrase(("quarterly", "report")),
        Phrase(("invo",), prefix=True),
        Phrase(("e", "mail")),
    )
    assert query.apps == ("firefox", "visual studio")


def test_engine_operators_become_quoted_terms() -> None:
    """Nothing a user types reaches FTS5 or to_tsquery as syntax."""
    query = parse_query("NEAR( a OR NOT x:y ^z")
    assert to_fts5(query) == '"near" AND "a" AND "or" AND "not" AND "x y" AND "z"'
    assert to_tsquery(parse_query('"big data" invo*')) == "('big' <-> 'data') & ('invo':*)"


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ('"open', "not closed"),
        ("*", r"put \* right after"),
        ("a*", "at least 2 letters"),
        ("x" * 501, "at most 500"),
        ("nul\x00", "control characters"),
        ("app:", "needs a name"),
        ("-- ()", "at least one word"),
        (" ".join(["w"] * 33), "more than 32 words"),
    ],
)
def test_bad_queries_are_refused_with_a_reason(raw: str, message: str) -> None:
    """Each refusal names what to change."""
    with pytest.raises(QueryError, match=message):
        parse_query(raw)


def test_highlight_marks_matched_words_in_the_snippet() -> None:
    """Marks are [start, end) offsets of whole matched words, phrases only where consecutive,
    and the word indexes point at the boxes."""
    text = "Please pay the invoice today\nthe Invoice, number 7 is overdue"
    found = highlight(text, parse_query('invoice "number 7"'))
    assert found.words == [3, 6, 7, 8]
    assert [found.snippet[a:b] for a, b in found.marks] == ["invoice", "Invoice,", "number", "7"]


def test_a_word_of_no_terms_and_one_of_two_do_not_shift_the_marks() -> None:
    """A word without letters or digits holds no term and "e-mail" holds two: as many terms
    as words, yet a term's index is not its word's (the boxes would be the wrong words')."""
    found = highlight("— e-mail from Ann", parse_query("e-mail ann"))
    assert found.words == [1, 3]
    assert [found.snippet[a:b] for a, b in found.marks] == ["e-mail", "Ann"]


def test_snippet_is_a_window_around_the_first_match() -> None:
    """Long texts give an ellipsised window that starts a few words before the first match."""
    words = [f"w{i}" for i in range(200)]
    words[120] = "needle"
    found = highlight(" ".join(words), parse_query("needle"))
    assert found.snippet.startswith("… w112 ")
    assert found.snippet.endswith(" …")
    [(a, b)] = found.marks
    assert found.snippet[a:b] == "needle"


def test_words_of_a_query_undo_its_phrases_and_keep_its_prefix() -> None:
    """What PostgreSQL's GIN index can answer exactly: every word on its own, the prefix still
    a prefix, app filters kept (they are not index terms)."""
    query = words_of(parse_query('"quarterly report" e-mai* app:mail'))
    assert to_tsquery(query) == "('quarterly') & ('report') & ('e') & ('mai':*)"
    assert query.apps == ("mail",)
