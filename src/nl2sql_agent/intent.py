"""The cheap first look at a question: data question, off-topic, write request or prompt injection.

Only when these checks are unsure does ``detect_intent`` spend a model call.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass
from functools import cached_property
from typing import Literal

from nl2sql_agent.db.types import SchemaCatalog
from nl2sql_agent.lexicon import FUNCTION_WORDS, TIME_NAME_WORDS, given_names, stem, stems, stems_of, words

Verdict = Literal["data", "off_topic", "write_request", "injection", "unspecified", "judgement", "unsure"]

_WRITE_VERBS = {
    "drop",
    "delete",
    "insert",
    "update",
    "truncate",
    "alter",
    "create",
    "grant",
    "revoke",
    "remove",
    "modify",
    "change",
    "rename",
    "erase",
    "wipe",
    "add",
    "set",
    "replace",
    "merge",
    "overwrite",
    "destroy",
    "vacuum",
    "attach",
    "execute",
    "exec",
    "kill",
    "shutdown",
    "terminate",
    "clear",
    "reset",
}
# A write verb followed by its object ("delete all", "drop the", "remove them") is a request to write,
# wherever it stands; "how many deleted orders" or "the change in revenue" are not.
_WRITE_OBJECTS = {
    "all",
    "the",
    "every",
    "them",
    "it",
    "this",
    "these",
    "those",
    "table",
    "tables",
    "rows",
    "row",
    "records",
    "record",
    "data",
    "everything",
    "any",
    "each",
    "my",
    "our",
    "his",
    "her",
    "their",
    "a",
    "an",
    "new",
}
_POLITE = {
    "please",
    "can",
    "could",
    "would",
    "you",
    "now",
    "just",
    "go",
    "ahead",
    "and",
    "then",
    "also",
    "i",
    "want",
    "to",
    "need",
    "let",
    "us",
    "me",
}
_INJECTION_PHRASES = (
    ("ignore", "instruction"),
    ("ignore", "previous"),
    ("ignore", "above"),
    ("disregard", "instruction"),
    ("system", "prompt"),
    ("developer", "mode"),
    ("your", "instruction"),
    ("reveal", "prompt"),
    ("jailbreak",),
    ("connection", "string"),
    ("database", "password"),
    ("pretend", "you"),
    ("act", "as"),
    ("forget", "instruction"),
    ("override", "rule"),
    ("new", "instruction"),
    ("you", "are", "now"),
    # Statements smuggled into the question, and encoded payloads to "decode and run".
    ("commit",),
    ("rollback",),
    ("pragma",),
    ("vacuum",),
    ("savepoint",),
    ("default", "transaction", "read"),
    ("base64",),
    ("decode", "run"),
    ("run", "query"),
    ("execute", "query"),
    ("run", "this", "sql"),
)
# Ways of asking that no table answers, whatever data words come with them: advice to the asker, opinions,
# causes and explanations, processes and benefits, other companies' data, live feeds and world trivia.
# Matched as whole word sequences, and only when the schema does not use the frame's words itself (a
# "tips" column, say). None of them occurs in the 1,127 answerable questions of the shared samples.
_OFF_TOPIC_FRAMES = tuple(
    tuple(frame.split())
    for frame in (
        "how do i",
        "how can",
        "how do you",
        "how should",
        "what steps",
        "the process",
        "key factors",
        "benefits of",
        "potential applications",
        "recommend",
        "tips",
        "what role",
        "meaning of",
        "right now",
        "in the world",
        "novel",
        "why",
        "affect",
        "impact of",
        "competitor",
    )
)
# Qualities that are someone's judgement, not a recorded measure: "the most challenging mountains to climb",
# "the most dangerous route". They count only when the schema does not use the word itself (a "difficulty"
# column). Words that a count or a sum can stand for ("popular", "best-selling", "successful") are left out.
_JUDGEMENTS = frozenset(
    stem(word)
    for word in (
        "attractive beautiful challenging dangerous difficult difficulty enjoyable exciting famous fascinating "
        "iconic impressive interesting memorable picturesque pleasant prestigious scenic"
    ).split()
)
# Change over time ("the population growth rate", "the sales trend") needs values from two or more times.
# "change" is left out: "the price change between the low and the high" compares two columns.
_OVER_TIME = frozenset(
    "grow grew grown growing growth trend trends increase increased decrease decreased decline declined rise "
    "rose fall fell evolve evolved".split()
)
_TIME_TYPES = ("date", "time", "year")
# "for a particular city": the question leaves out the one thing a query would filter on.
_PLACEHOLDERS = frozenset({"particular", "specific", "certain"})
_DATA_CUES = stems(
    "how many much count number total sum average avg mean median top bottom list show which what who when "
    "where highest lowest most least largest smallest max min maximum minimum per by each between trend compare "
    "ratio percent percentage share rank ranking distinct unique latest earliest first last growth month year "
    "quarter week day daily monthly yearly revenue sales find give return provide identify name describe state "
    "display get fetch retrieve calculate compute tallest heaviest oldest youngest biggest"
)
_OFF_TOPIC_CUES = stems(
    "poem joke weather favourite favorite colour color story song recipe movie film meaning life capital "
    "translate hello hi hey thanks thank bye goodbye feel feeling love weekend advice essay haiku sing "
    "chess football president celebrity horoscope dream yourself name you're poetry limerick rhyme "
    "bitcoin stock tomorrow forecast tell write compose should learn explain theory"
)
# Cues that a sentence asks for numbers or lists ("what", "which" alone start trivia questions too).
_STRONG_CUES = stems(
    "how many much count number total sum average avg mean median top bottom list per by each between ratio "
    "percent percentage share rank ranking distinct unique growth monthly yearly daily revenue"
)
# Column words that are also how people phrase any question ("the first president", "the highest mountain").
_WEAK_NAMES = stems(
    "first last top bottom total sum count number average avg mean median max min maximum minimum highest "
    "lowest latest earliest most least per each all any new old"
)
# Column words so common that a match says nothing ("what is your name?" is not about a name column).
_GENERIC = stems("name date type id value code status description title time number note")
_FOLLOW_UP_STARTS = {
    "and",
    "what",
    "only",
    "now",
    "how",
    "same",
    "but",
    "also",
    "then",
    "for",
    "in",
    "excluding",
    "without",
    "just",
    "sort",
    "order",
    "break",
    "split",
    "group",
}


@dataclass(frozen=True)
class Vocabulary:
    """Stemmed schema words: ``names`` of tables and columns, ``values`` from comments and sample values.

    A question that names a table or column is about the data; one that only shares words with sample
    values ("United States", "North") may just as well be general knowledge.
    """

    names: frozenset[str] = frozenset()
    values: frozenset[str] = frozenset()
    phrases: frozenset[frozenset[str]] = frozenset()
    """Column names of several words ("first_name", "unit_price"): all of them asked is a strong match,
    even when each word alone is too common to count."""

    @cached_property
    def all(self) -> frozenset[str]:
        """Every schema word (built once: on a schema of thousands of tables the union is not free)."""
        return self.names | self.values


_SAMPLE_WORDS = 4
"""Sample values longer than this many words (titles, free text) add no words: they name no concept."""


def schema_vocabulary(catalog: SchemaCatalog) -> Vocabulary:
    """What a data question tends to mention: the schema's names, its comments and short sample values."""
    names: set[str] = set()
    values: set[str] = set()
    phrases: set[frozenset[str]] = set()
    for table in catalog.tables.values():
        names |= stems(table.name)
        values |= stems(table.comment or "")
        for column in table.columns:
            words = stems(column.name)
            names |= words
            if len(words - {"id"}) >= 2:
                phrases.add(words - {"id"})
            values |= stems(column.comment or "")
            values |= stems_of(v for v in column.samples if len(v.split()) <= _SAMPLE_WORDS)
    names -= FUNCTION_WORDS | {"id"}
    return Vocabulary(frozenset(names), frozenset(values - FUNCTION_WORDS - names), frozenset(phrases))


def _has_phrase(tokens: list[str], phrase: tuple[str, ...]) -> bool:
    stemmed = [stem(t) for t in tokens]
    return all(stem(word) in stemmed for word in phrase) if len(phrase) > 1 else stem(phrase[0]) in stemmed


def _has_sequence(tokens: list[str], sequence: tuple[str, ...]) -> bool:
    size = len(sequence)
    return any(tuple(tokens[i : i + size]) == sequence for i in range(len(tokens) - size + 1))


def _is_forecast(tokens: list[str], this_year: int | None) -> bool:
    """ "What will our revenue be in 2030?": a value asked of a year still to come, which no row records.

    Only with a later year: "which invoices will be due next week" may be read off a due date.
    """
    if this_year is None or "will" not in tokens or "be" not in tokens[tokens.index("will") :]:
        return False
    return any(t.isdigit() and len(t) == 4 and int(t) > this_year for t in tokens)


def classify(
    question: str, vocabulary: Vocabulary | Collection[str], *, has_history: bool, this_year: int | None = None
) -> Verdict:
    """A verdict from words alone; ``unsure`` means ask the model.

    ``vocabulary`` may be a plain collection of stemmed schema names; ``this_year`` (the run's "today")
    lets a question about a later year be told for a forecast.
    """
    if not isinstance(vocabulary, Vocabulary):
        vocabulary = Vocabulary(names=frozenset(vocabulary))
    tokens = words(question)
    if not tokens:
        return "off_topic"
    if any(_has_phrase(tokens, phrase) for phrase in _INJECTION_PHRASES):
        return "injection"
    leading = [t for t in tokens if t not in _POLITE]
    if leading and leading[0] in _WRITE_VERBS and leading[1:2] != ["up"]:  # "add up the sales" is a sum
        return "write_request"
    pairs = zip(tokens, tokens[1:], strict=False)
    if any(word in _WRITE_VERBS and following in _WRITE_OBJECTS for word, following in pairs):
        return "write_request"
    if unspecified_thing(question):
        return "unspecified"
    if judged_qualities(question, vocabulary):
        return "judgement"
    if _is_forecast(tokens, this_year) or any(
        _has_sequence(tokens, frame) and not _schema_phrase(frame, vocabulary) for frame in _OFF_TOPIC_FRAMES
    ):
        return "off_topic"
    asked = {stem(t) for t in tokens}
    named = (asked & vocabulary.names) - _GENERIC - _WEAK_NAMES - FUNCTION_WORDS
    named |= {" ".join(sorted(phrase)) for phrase in vocabulary.phrases if phrase <= asked}
    if named and (asked & _DATA_CUES or len(named) >= 2 or question.rstrip().endswith("?")):
        return "data"
    overlap = named | ((asked & vocabulary.values) - FUNCTION_WORDS - _WEAK_NAMES)
    # Off-topic cues win over "short, so probably a follow-up": "tell me a joke" stays a joke in a thread.
    if asked & _OFF_TOPIC_CUES and not named:
        return "off_topic"
    # Words the schema uses only in comments and sample values ("revenue", "Marvel Comics") count when the
    # question is asked like a data question; without a cue they could be general knowledge.
    if overlap and asked & _STRONG_CUES:
        return "data"
    if has_history and (tokens[0] in _FOLLOW_UP_STARTS or len(tokens) <= 6):
        return "data"
    return "unsure"


def _schema_phrase(frame: tuple[str, ...], vocabulary: Vocabulary) -> bool:
    """Whether the schema names every content word of ``frame`` itself: a "tips" column makes "tips" data,
    but an ``application`` column does not make "potential applications" of a technology data."""
    content = stems(" ".join(frame)) - FUNCTION_WORDS
    return bool(content) and content <= vocabulary.names


def judged_qualities(question: str, vocabulary: Vocabulary) -> list[str]:
    """Judgement words the question ranks or filters by that the schema never uses, as asked.

    Example: on a schema of mountains and their altitudes, ``judged_qualities("Which mountain is the most
    challenging to climb?", vocabulary)`` gives ``["challenging"]``.
    """
    asked = _JUDGEMENTS & stems(question)
    if not asked:
        return []  # the usual case: no set built from a vocabulary that may hold thousands of words
    # 'books titled "Beautiful Minds"' names a value.
    judged = asked - vocabulary.names - vocabulary.values - stems_of(given_names(question))
    return [word for word in dict.fromkeys(words(question)) if stem(word) in judged]


def change_without_time(question: str, catalog: SchemaCatalog) -> str | None:
    """The word asking for change over time ("growth", "trend"), when no column of ``catalog`` records a
    time: no date or time type, no name with "year", "date", "month" and the like.

    Example: on a schema of states and their populations, ``change_without_time("How does the population
    growth rate of California compare to that of Texas?", catalog)`` gives ``"growth"``.
    """
    asked = next((w for w in words(question) if w in _OVER_TIME), None)
    if asked is None:
        return None  # the usual case: no walk over a schema that may hold thousands of tables
    for table in catalog.tables.values():
        for column in table.columns:
            if set(words(column.name)) & TIME_NAME_WORDS or any(t in column.type.lower() for t in _TIME_TYPES):
                return None
    return asked


def unspecified_thing(question: str) -> str | None:
    """What "a particular / specific / certain ..." leaves unnamed, when the question names no value either.

    Example: ``unspecified_thing("the average fare from a particular city")`` gives ``"city"``; with
    "a particular city, Boston" the city is named and nothing is missing.
    """
    tokens = words(question)
    for index, token in enumerate(tokens[:-2]):
        if token in ("a", "an") and tokens[index + 1] in _PLACEHOLDERS and tokens[index + 2] not in FUNCTION_WORDS:
            return None if given_names(question) else tokens[index + 2]
    return None


_IDENTIFIER = re.compile(r"`([A-Za-z][A-Za-z0-9]*(?:_[A-Za-z0-9]+)+)`")


def unknown_identifiers(question: str, catalog: SchemaCatalog) -> list[str]:
    """Table or column names the question spells out in backticks that the (permitted) schema lacks.

    Only names with an underscore count (``course_assignment_deadline``): a backticked ``VTI`` is a value.
    """
    spelled = _IDENTIFIER.findall(question) if "`" in question else []
    if not spelled:
        return []  # the usual case: no walk over a schema that may hold thousands of tables
    return [name for name in dict.fromkeys(spelled) if not _is_schema_name(name.lower(), catalog)]


def _is_schema_name(name: str, catalog: SchemaCatalog) -> bool:
    return any(t.name.lower() == name or t.column(name) is not None for t in catalog.tables.values())


def hidden_names_asked(question: str, hidden_columns: Collection[str]) -> list[str]:
    """Hidden ``table.column`` names whose column words all appear in the question (e.g. "email", "salary")."""
    asked = stems(question)
    found = []
    for qualified in sorted(hidden_columns):
        column = qualified.rsplit(".", 1)[-1]
        column_stems = stems(column)
        if column_stems and column_stems <= asked:
            found.append(qualified)
    return found
