"""Search queries: parsed once by our own small grammar, then compiled for each backend.

The grammar is ours so that no user input ever reaches FTS5's or to_tsquery's parser as syntax
(their errors would be 500s, and `NEAR(`, `OR`, `-` or `:` would mean something): every term is
reduced to letters and digits and quoted.

    query   := item (whitespace item)*          all items must match (AND)
    item    := 'app:' value | '"' words '"' | word | word '*'
    value   := word | '"' words '"'              a substring of the capture's app name

A word is split like the index splits text (unicode61: letters and digits; everything else
separates), case and diacritics folded, so `e-mail` is the phrase "e mail" and `Café` matches
`cafe`. Matching words are found again in Python for the snippet and the boxes, with the same
folding, so both backends mark the same words.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Final

from jarvis_server.errors import JarvisServerError

__all__ = [
    "MAX_QUERY_CHARS",
    "Highlight",
    "Phrase",
    "QueryError",
    "SearchQuery",
    "fold",
    "highlight",
    "parse_query",
    "terms_of",
    "to_fts5",
    "to_tsquery",
    "words_of",
]

MAX_QUERY_CHARS: Final = 500
_MAX_TERMS: Final = 32
_MIN_PREFIX: Final = 2  # "a*" would match most of the index
_TOKEN: Final = re.compile(r"[^\W_]+")
_ITEM: Final = re.compile(r'\s*(?:(app:)?"([^"]*)"|(app:)?([^\s"]+))')


class QueryError(JarvisServerError, ValueError):
    """The query cannot be searched; the message says what to change."""


def fold(text: str) -> str:
    """Lower case without diacritics, as the index stores terms."""
    if text.isascii():  # most screen text: nothing to decompose
        return text.lower()
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def terms_of(text: str) -> list[str]:
    """The index terms of some text, in order."""
    return _TOKEN.findall(fold(text))


@lru_cache(maxsize=65536)
def _word_terms(word: str) -> tuple[str, ...]:
    # Screens repeat their words (menus, prompts, column names): each is folded once.
    return tuple(terms_of(word))


@dataclass(frozen=True, slots=True)
class Phrase:
    """Terms that must follow each other; the last may be a prefix."""

    terms: tuple[str, ...]
    prefix: bool = False


@dataclass(frozen=True, slots=True)
class SearchQuery:
    phrases: tuple[Phrase, ...]
    apps: tuple[str, ...] = field(default=())


def parse_query(raw: str) -> SearchQuery:
    """Parse a user's query, or raise QueryError naming what is wrong."""
    if len(raw) > MAX_QUERY_CHARS:
        raise QueryError(f"the query is {len(raw)} characters long; use at most {MAX_QUERY_CHARS}")
    if any(unicodedata.category(c) == "Cc" and c not in "\t\n\r" for c in raw):
        raise QueryError("the query holds control characters (such as NUL); remove them")
    if raw.count('"') % 2:
        raise QueryError('a quote (") is not closed; close the phrase or remove the quote')
    phrases: list[Phrase] = []
    apps: list[str] = []
    pos = 0
    rest = raw.strip()
    while pos < len(rest):
        match = _ITEM.match(rest, pos)
        if match is None:  # only trailing whitespace is left
            break
        pos = match.end()
        app_quoted, quoted, app_bare, bare = match.groups()
        if app_quoted or app_bare:
            value = (quoted if app_quoted else bare) or ""
            if not value.strip():
                raise QueryError("`app:` needs a name after it, such as app:firefox")
            apps.append(value.strip().casefold())
            continue
        if quoted is None and bare == "app:":
            raise QueryError("`app:` needs a name after it, such as app:firefox")
        text = quoted if quoted is not None else bare
        prefix = quoted is None and bare.endswith("*")
        terms = terms_of(text)
        if prefix:
            if bare.rstrip("*") != bare[:-1] or not terms or not bare[:-1][-1:].isalnum():
                raise QueryError(
                    f"{bare!r}: put * right after at least {_MIN_PREFIX} letters, as in invo*"
                )
            if len(terms[-1]) < _MIN_PREFIX:
                raise QueryError(f"{bare!r}: a prefix needs at least {_MIN_PREFIX} letters")
        if terms:
            phrases.append(Phrase(tuple(terms), prefix))
    if not phrases:
        raise QueryError("give at least one word to search for (letters or digits)")
    if sum(len(p.terms) for p in phrases) > _MAX_TERMS:
        raise QueryError(f"the query has more than {_MAX_TERMS} words; use fewer")
    return SearchQuery(tuple(phrases), tuple(apps))


def to_fts5(query: SearchQuery) -> str:
    """An FTS5 MATCH expression: quoted strings only, so nothing is read as an operator."""
    parts = []
    for phrase in query.phrases:
        part = '"' + " ".join(phrase.terms) + '"'
        parts.append(part + "*" if phrase.prefix else part)
    return " AND ".join(parts)


def words_of(query: SearchQuery) -> SearchQuery:
    """Every word of the query, each on its own (phrases undone, a prefix kept): what a text
    index without positions can find exactly, a superset of the query's matches."""
    words = [
        Phrase((term,), phrase.prefix and k == len(phrase.terms) - 1)
        for phrase in query.phrases
        for k, term in enumerate(phrase.terms)
    ]
    return SearchQuery(tuple(words), query.apps)


def to_tsquery(query: SearchQuery) -> str:
    """A to_tsquery('simple', ...) expression; terms are letters and digits, quoted."""
    parts = []
    for phrase in query.phrases:
        lexemes = [f"'{t}'" for t in phrase.terms]
        if phrase.prefix:
            lexemes[-1] += ":*"
        parts.append("(" + " <-> ".join(lexemes) + ")")
    return " & ".join(parts)


@dataclass(frozen=True, slots=True)
class Highlight:
    """Where a query matched one capture's text."""

    snippet: str
    marks: list[tuple[int, int]]  # [start, end) in the snippet
    words: list[int]  # indexes of matched words (into text.split())


_SNIPPET_BEFORE: Final = 8
_SNIPPET_WORDS: Final = 32
_MAX_MARKED_WORDS: Final = 500


def highlight(text: str, query: SearchQuery) -> Highlight:
    """The matched words of `text` (words separated by whitespace), and a snippet around the
    first match with the matches' character ranges."""
    words = text.split()
    # Every term with the word it came from: a word may hold several terms ("e-mail").
    per_word = list(map(_word_terms, words))
    terms = [t for word_terms in per_word for t in word_terms]
    # Most texts have a term per word: then a term's index is its word's. (Counting terms is
    # not enough: a word of no term and one of two, "— e-mail", keep the count.)
    owner = (
        None
        if all(len(word_terms) == 1 for word_terms in per_word)
        else [i for i, word_terms in enumerate(per_word) for _ in word_terms]
    )
    matched: set[int] = set()
    for phrase in query.phrases:
        n = len(phrase.terms)
        # Where the first term is (one pass in a comprehension: this runs for every hit of
        # every page), then the rest of the phrase checked there only.
        lead = phrase.terms[0]
        if n == 1 and phrase.prefix:
            starts = [k for k, t in enumerate(terms) if t.startswith(lead)]
        else:
            starts = [k for k, t in enumerate(terms) if t == lead]
        if n > 1:
            starts = [k for k in starts if k + n <= len(terms) and _phrase_at(terms, k, phrase)]
        for start in starts:
            matched.update(range(start, start + n) if owner is None else owner[start : start + n])
            if len(matched) >= _MAX_MARKED_WORDS:
                break
    ordered = sorted(matched)
    first = ordered[0] if ordered else 0
    lo = max(0, first - _SNIPPET_BEFORE)
    hi = min(len(words), lo + _SNIPPET_WORDS)
    parts: list[str] = []
    marks: list[tuple[int, int]] = []
    at = 0
    if lo > 0:
        parts.append("… ")
        at += 2
    for i in range(lo, hi):
        if i > lo:
            parts.append(" ")
            at += 1
        if i in matched:
            marks.append((at, at + len(words[i])))
        parts.append(words[i])
        at += len(words[i])
    if hi < len(words):
        parts.append(" …")
    return Highlight("".join(parts), marks, ordered)


def _phrase_at(terms: list[str], start: int, phrase: Phrase) -> bool:
    last = len(phrase.terms) - 1
    for k, term in enumerate(phrase.terms):
        have = terms[start + k]
        if have != term and not (k == last and phrase.prefix and have.startswith(term)):
            return False
    return True
