"""Expand defog-style gold SQL alternatives into concrete queries.

defog sql-eval gold text may hold several acceptable answers at once:

* ``;``-separated alternative queries (``SELECT a FROM t; SELECT a, b FROM t``), and
* ``{col_a, col_b}`` column choices: any non-empty combination of the listed columns, in the listed
  order, is acceptable; a later ``GROUP BY {}`` takes the chosen columns too.

This follows ``get_all_minimal_queries`` of defog's sql-eval, with two fixes: a ``;`` or a brace inside a
string literal or a quoted identifier is not a separator, and every brace group of a query is expanded
(sql-eval expands only the first).
"""

from __future__ import annotations

import itertools

MAX_EXPANSIONS = 256
"""Cap on the queries one gold text expands to, so a pathological gold cannot stall scoring."""

_QUOTES = {"'", '"', "`"}


def _scan(text: str) -> list[tuple[int, str]]:
    """Positions of ``;``, ``{`` and ``}`` outside quoted strings and identifiers."""
    found: list[tuple[int, str]] = []
    quote: str | None = None
    index = 0
    while index < len(text):
        char = text[index]
        if quote is not None:
            if char == quote:
                # A doubled quote ('it''s') is an escaped quote, not the end of the literal.
                if index + 1 < len(text) and text[index + 1] == quote:
                    index += 2
                    continue
                quote = None
        elif char in _QUOTES:
            quote = char
        elif char in ";{}":
            found.append((index, char))
        index += 1
    return found


def split_statements(text: str) -> list[str]:
    """Split gold text on top-level ``;`` and drop empty pieces."""
    pieces: list[str] = []
    start = 0
    for position, char in _scan(text):
        if char == ";":
            pieces.append(text[start:position])
            start = position + 1
    pieces.append(text[start:])
    return [piece.strip() for piece in pieces if piece.strip()]


def _brace_groups(query: str) -> list[tuple[int, int]]:
    """``(start, end)`` of every non-empty top-level ``{...}`` group (``{}`` placeholders excluded)."""
    groups: list[tuple[int, int]] = []
    opened: int | None = None
    for position, char in _scan(query):
        if char == "{" and opened is None:
            opened = position
        elif char == "}" and opened is not None:
            if query[opened + 1 : position].strip():
                groups.append((opened, position))
            opened = None
    return groups


def _column_choices(body: str) -> list[str]:
    options = [option.strip() for option in body.split(",") if option.strip()]
    combos = itertools.chain.from_iterable(itertools.combinations(options, size) for size in range(1, len(options) + 1))
    return [", ".join(combo) for combo in combos]


def expand_query(query: str) -> list[str]:
    """Every concrete query one gold query (no top-level ``;``) stands for."""
    groups = _brace_groups(query)
    if not groups:
        return [query]
    choice_lists = [_column_choices(query[start + 1 : end]) for start, end in groups]
    expanded: list[str] = []
    for choice in itertools.product(*choice_lists):
        pieces: list[str] = []
        cursor = 0
        for (start, end), columns in zip(groups, choice, strict=True):
            pieces.append(query[cursor:start])
            pieces.append(columns)
            cursor = end + 1
        tail = query[cursor:].replace("{}", choice[0])
        expanded.append("".join(pieces) + tail)
        if len(expanded) >= MAX_EXPANSIONS:
            break
    return expanded


def expand_gold(text: str) -> list[str]:
    """All concrete gold queries a gold text accepts, in order, without duplicates.

    Example:
        >>> expand_gold("SELECT {a, b} FROM t; SELECT c FROM t")
        ['SELECT a FROM t', 'SELECT b FROM t', 'SELECT a, b FROM t', 'SELECT c FROM t']
    """
    seen: dict[str, None] = {}
    for statement in split_statements(text):
        for query in expand_query(statement):
            seen.setdefault(query, None)
            if len(seen) >= MAX_EXPANSIONS:
                return list(seen)
    return list(seen)
