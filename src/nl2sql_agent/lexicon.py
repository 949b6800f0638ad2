"""Word-level helpers shared by intent detection and schema retrieval (cheap, no model calls)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache

_WORD = re.compile(r"[a-z0-9]+")
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
FUNCTION_WORDS = frozenset(
    "a an the of in on at to for from by with and or but nor is are was were be been being do does did has have "
    "had it its this that these those there their our we you your i me my he she they them his her as if than so "
    "not no can could would should will shall may might must s t into onto about over under up out what who whom "
    "whose which where when why how like".split()
)
"""Words that say nothing about a schema: matching one (a sample title's "the") is no evidence."""
TIME_NAME_WORDS = frozenset("year yr date time month day quarter week season period timestamp".split())
"""Words that make a column's name a time unit or point (``survey_year``, ``sale_date``, ``month``)."""
_IRREGULAR = {"people": "person", "children": "child", "men": "man", "women": "woman", "data": "data"}


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    """A light English stemmer: enough to match "sales"/"sale", "categories"/"category", "cities"/"city"."""
    if word in _IRREGULAR:
        return _IRREGULAR[word]
    for suffix, replacement in (("ies", "y"), ("sses", "ss"), ("ches", "ch"), ("shes", "sh"), ("xes", "x")):
        if word.endswith(suffix) and len(word) > len(suffix) + 1:
            return word[: -len(suffix)] + replacement
    if word.endswith("oes") and len(word) > 6:  # superheroes, tomatoes (but not shoes, canoes)
        return word[:-2]
    if word.endswith("s") and not word.endswith(("ss", "us", "is")) and len(word) > 3:
        return word[:-1]
    return word


def words(text: str) -> list[str]:
    """Lower-case alphanumeric words of ``text``, identifiers split on ``_`` and camelCase (``sbTxCustId``)."""
    return _WORD.findall(_CAMEL.sub(" ", text).lower().replace("_", " "))


@lru_cache(maxsize=65536)
def stems(text: str) -> frozenset[str]:
    """The set of stemmed words of ``text`` (cached: schema names and samples recur on every question)."""
    return frozenset(stem(w) for w in words(text))


def stems_of(texts: Iterable[str]) -> frozenset[str]:
    """The union of :func:`stems` over several texts."""
    found: set[str] = set()
    for text in texts:
        found |= stems(text)
    return frozenset(found)


_QUOTED = re.compile(r"\"([^\"]{2,})\"|“([^”]{2,})”|`([^`]{2,})`|(?<![A-Za-z])'([^']{2,})'(?![A-Za-z])")
_TOKEN = re.compile(r"[A-Za-z][\w.&'-]*|&")
_SENTENCE_END = re.compile(r"(?<=[a-z]{3}\.)\s+|(?<=[!?])\s+")
"""A sentence ends after "!", "?" or a full stop closing a lower-case word ("today. Goodbye"), not after
an abbreviation ("St. Louis")."""


def quoted_values(text: str) -> list[str]:
    """Values a question puts in quotes (``"University A"``, ``'Test Store'``); backticked names are
    identifiers, not values, and are left out."""
    found = (
        (double or curly or single).strip(" .,;:!?")
        for double, curly, backticked, single in _QUOTED.findall(text)
        if not backticked
    )
    return [value for value in dict.fromkeys(found) if value]


def given_names(text: str, *, limit: int = 3) -> list[str]:
    """Values a question names: quoted strings, then runs of capitalised words after the first word.

    Example: ``given_names('Where is Amy Firth\\'s hometown, "Leeds"?')`` gives ``["Leeds", "Amy Firth"]``.
    """
    found = [next(part for part in match if part).strip(" .,;:!?") for match in _QUOTED.findall(text)]
    # A sentence's first word is capitalised because it starts the sentence, and "I" because it is "I".
    # Quoted text is taken whole above, not again word by word.
    for sentence in _SENTENCE_END.split(_QUOTED.sub(" q ", text)):
        run: list[str] = []
        for index, token in enumerate(_TOKEN.findall(sentence)):
            token = token.removesuffix("'s")
            token = token.rstrip(".'-") if len(token) > 3 else token  # "St." keeps its full stop
            if (index > 0 and token[:1].isupper() and token != "I") or (token == "&" and run):  # "Toys & Games"
                run.append(token)
                continue
            found.append(_joined(run))
            run = []
        found.append(_joined(run))
    return [name for name in dict.fromkeys(found) if name][:limit]


def _joined(run: list[str]) -> str:
    while run and run[-1] == "&":
        run = run[:-1]
    return " ".join(run)
