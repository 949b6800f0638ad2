"""Why a query found no rows: the text values it filters on, looked up where they really are.

A small model guesses how values are spelt and which column holds them (``abbreviation = 'JetBlue
Airways'``, ``country = 'france'``). When a query returns nothing, each ``column = 'text'`` filter is
checked: a value that exists only in another letter case or with blanks around it is corrected in place;
a value found in another column of the table becomes a hint for the repair loop. Every lookup is itself a
validated query under the caller's policy (hidden columns are never searched, row filters apply) with a
short timeout.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field

from sqlglot import exp
from sqlglot.errors import SqlglotError
from sqlglot.optimizer.scope import traverse_scope

from nl2sql_agent.context import RunContext
from nl2sql_agent.db.types import ColumnInfo, TableInfo
from nl2sql_agent.errors import Nl2SqlError
from nl2sql_agent.lexicon import FUNCTION_WORDS, given_names, quoted_values, stem, stems, words
from nl2sql_agent.retrieval import score_tables
from nl2sql_agent.safety import validate_sql
from nl2sql_agent.safety.catalog import permitted_catalog
from nl2sql_agent.sqltext import parse_or_none

MAX_FILTERS = 3
"""Filters looked up per query: the first few carry the question's names."""
MAX_OTHER_COLUMNS = 8
"""Other text columns of the same table searched for a value."""
LOOKUP_TIMEOUT_S = 2.0
MAX_NAME_COLUMNS = 24
"""Text columns searched for a name the question gives (the most relevant tables' first)."""
NAME_BUDGET_S = 3.0
"""Wall-clock budget for all of one question's name lookups."""
_TEXT_TYPES = ("char", "text", "clob", "string", "varchar")


@dataclass(frozen=True)
class Filter:
    """``table.column = 'value'`` in a query, with the literal node to correct in place."""

    table: str
    column: str
    value: str
    literal: exp.Literal = field(compare=False, repr=False)


@dataclass
class Lookup:
    """What the lookups found: a corrected query, or hints for the model, or nothing."""

    fixed_sql: str | None = None
    hints: list[str] = field(default_factory=list)


def text_filters(tree: exp.Expr) -> list[Filter]:
    """The ``column = 'text'`` and ``column IN ('text', ...)`` filters of ``tree`` on real tables."""
    found: list[Filter] = []
    try:
        scopes = traverse_scope(tree)
    except (SqlglotError, ValueError):
        return []
    for scope in scopes:
        for column, literal in _compared(scope.expression):
            source = scope.sources.get(column.table)
            if isinstance(source, exp.Table):
                found.append(Filter(source.name.lower(), column.name.lower(), literal.this, literal))
    return found[:MAX_FILTERS]


def look_up_values(sql: str, ctx: RunContext) -> Lookup:
    """Check the text filters of ``sql`` (which returned no rows) against the data the caller may read."""
    tree = parse_or_none(sql, ctx.dialect)
    if tree is None:
        return Lookup()
    columns = permitted_catalog(ctx.db_catalog, ctx.dialect, ctx.policy)
    lookup = Lookup()
    fixed = False
    for item in text_filters(tree):
        readable = columns.permitted.get(item.table, frozenset())
        if item.column not in readable or _exists(ctx, item.table, _eq(item.column, item.value)):
            continue
        spelt = _distinct(ctx, item.table, item.column, _eq(item.column, item.value, folded=True))
        if len(spelt) == 1:
            item.literal.replace(exp.Literal.string(spelt[0]))
            fixed = True
            continue
        named = _named_row(ctx, item, columns.permitted)
        if named is not None:
            item.literal.parent.replace(named)  # type: ignore[union-attr]
            fixed = True
            continue
        lookup.hints += _hints(ctx, item, readable, columns.tables[item.table].columns)
    if fixed:
        lookup.fixed_sql = tree.sql(dialect=ctx.dialect)
    return lookup


def _named_row(ctx: RunContext, item: Filter, permitted: Mapping[str, frozenset[str]]) -> exp.In | None:
    """``alignment_id = 'Bad'``: a key compared with the name of the row it points to. When exactly one text
    column of the referenced table holds that name (in one spelling), the filter becomes ``alignment_id IN
    (SELECT id FROM alignment WHERE alignment = 'Bad')``, the one thing it can have meant."""
    equality = item.literal.parent
    if not isinstance(equality, exp.EQ):
        return None
    column = equality.expression if equality.this is item.literal else equality.this
    table = ctx.db_catalog.table(item.table)
    reference = _reference(table, item.column, ctx) if isinstance(column, exp.Column) and table else None
    if reference is None:
        return None
    target, key = reference
    readable = permitted.get(target.name.lower(), frozenset())
    if key.lower() not in readable:
        return None
    holders = [
        (text.name, spelt)
        for text in _text_columns(target, readable)
        if (spelt := _distinct(ctx, target.name, text.name, _eq(text.name, item.value, folded=True)))
    ]
    if len(holders) != 1 or len(holders[0][1]) != 1:
        return None  # held nowhere, or in several columns or spellings: the model must choose
    name, (spelling,) = holders[0]
    rows = exp.select(exp.column(key)).from_(target.name).where(_eq(name, spelling))
    return exp.In(this=column.copy(), query=exp.Subquery(this=rows))


def _reference(table: TableInfo, column: str, ctx: RunContext) -> tuple[TableInfo, str] | None:
    """The table and key ``table.column`` points to: a declared foreign key of that one column, else a table
    named as the column is (``flights.airline`` → ``airlines``) with one primary key."""
    for fk in table.foreign_keys:
        if [c.lower() for c in fk.columns] == [column] and (target := ctx.db_catalog.table(fk.ref_table)):
            keys = fk.ref_columns or tuple(c.name for c in target.columns if c.primary_key)
            return (target, keys[0]) if len(keys) == 1 else None
    named = {stem(word) for word in words(column)} - {"id"}
    for target in ctx.db_catalog.tables.values():
        keys = [c.name for c in target.columns if c.primary_key]
        if target is not table and len(keys) == 1 and {stem(word) for word in words(target.name)} == named:
            return target, keys[0]
    return None


def stored_names(names: Sequence[str], question: str, ctx: RunContext) -> list[str]:
    """The ``names`` the database holds as a text value (any letter case), as ``table.column`` holders.

    Sample values are checked first, for free; then up to :data:`MAX_NAME_COLUMNS` readable text columns,
    tables most relevant to ``question`` first, within :data:`NAME_BUDGET_S` seconds.
    """
    # Blanks are ignored: "god/eternal" is how a question writes the stored "God / Eternal".
    wanted = {_squeezed(name) for name in names if name.strip()}
    if not wanted:
        return []
    readable = permitted_catalog(ctx.db_catalog, ctx.dialect, ctx.policy).permitted
    scores = score_tables(ctx.catalog, question)
    # sorted() is stable: equally relevant tables stay in catalog order, so the search is reproducible.
    tables = sorted(ctx.db_catalog.tables.items(), key=lambda item: -scores.get(item[0], 0.0))
    found: list[str] = []
    searched: list[tuple[bool, str, str]] = []
    for key, info in tables:
        for column in _text_columns(info, readable.get(key.lower(), frozenset())):
            held = wanted & {_squeezed(value) for value in column.samples}
            found += [f"{key}.{column.name}"] * bool(held)
            searched.append((_holds_no_names(info, column), key, column.name))
    if found:
        return found
    # Names live in name columns, not in keys or dates: those go last, or a schema whose relevant tables are
    # mostly keys (``event_id``, ``link_to_member``) spends the column budget before it reaches ``first_name``.
    searched.sort(key=lambda entry: entry[0])  # stable: relevance order holds within each group
    deadline = time.monotonic() + NAME_BUDGET_S
    for _, key, column_name in searched[:MAX_NAME_COLUMNS]:
        if time.monotonic() > deadline:
            break
        found += [f"{key}.{column_name}" for value in wanted if _exists(ctx, key, _squeezed_eq(column_name, value))]
        if found:
            break
    return found


def absent_values(sql: str, question: str, ctx: RunContext) -> list[str]:
    """Values the question quotes and ``sql`` filters on exactly (``=``, ``IN``, ``LIKE`` without a
    wildcard) that no text column the caller may read holds: not whole, and not word by word (a "first
    last" name split over two columns is held); a single word not even inside a value ('Hey' is held by
    "Hey Oh", as a pattern may mean). For a query that found nothing, such a value is why, whatever the
    query.

    Example: for 'the average GPA of students who transferred from "University A"', a query filtering
    ``transfer_source LIKE 'University A'`` on data without that university gives ``["University A"]``.
    """
    asked = quoted_values(question)
    tree = parse_or_none(sql, ctx.dialect) if asked else None
    if tree is None:
        return []  # the usual case: nothing quoted, nothing looked up
    used = {literal.this.strip().lower() for literal in tree.find_all(exp.Literal) if literal.is_string}
    absent = []
    for value in (value for value in asked if value.lower() in used):
        parts = [word for word in value.split() if len(word) > 2]
        held = _held_anywhere([value, *parts] if len(parts) > 1 else [value], ctx)
        if (
            held is not None
            and value.lower() not in held
            and not (len(parts) > 1 and held >= {p.lower() for p in parts})
        ):
            absent.append(value)
    return absent


def unheld_names(question: str, drafts: Sequence[str], ctx: RunContext) -> list[str]:
    """Names of several words the question gives (quoted or capitalised) that no draft used and no readable
    text column holds, not whole and not a word of them inside any value: for drafts that all failed, the
    question is about something the database does not have.

    Example: "the seating capacity of the main venue at Madison Square Garden", drafted as ``city_code =
    'MDW'`` on flight data, gives ``["Madison Square Garden"]``.
    """
    names = [name for name in given_names(question) if len(name.split()) > 1]
    if not names:
        return []  # the usual case: no name of several words, nothing looked up
    used: set[str] = set()
    for tree in filter(None, (parse_or_none(draft, ctx.dialect) for draft in drafts)):
        used.update(*(stems(literal.this) for literal in tree.find_all(exp.Literal) if literal.is_string))
    unheld = []
    for name in names:
        named = stems(name) - FUNCTION_WORDS
        parts = [word for word in name.split() if len(word) > 2]
        # A word the schema or a draft has ties the name to the data; "HH MM" is a format, not a name.
        if not parts or named & ctx.vocabulary.all or named & used:
            continue
        if _held_anywhere([name, *parts], ctx) == set():  # None: the search ran out, nothing is concluded
            unheld.append(name)
    return unheld


_FILTERS = (exp.EQ, exp.NEQ, exp.Like, exp.ILike, exp.In, exp.GT, exp.GTE, exp.LT, exp.LTE)


def empty_columns(sql: str, ctx: RunContext) -> list[str]:
    """Columns ``sql`` compares in a filter that hold no value in any row the caller may read, as
    ``table.column``: whatever the comparison, it matches nothing, so for a query that found nothing they
    are why, and no other draft of the question can do better.

    Example: ``WHERE internship LIKE '%Technology%'`` on a ``student`` table whose ``internship`` is NULL
    in every row gives ``["student.internship"]``.
    """
    tree = parse_or_none(sql, ctx.dialect)
    try:
        scopes = traverse_scope(tree) if tree is not None else []
    except (SqlglotError, ValueError):
        return []
    empty: list[str] = []
    for scope in scopes:
        where = scope.expression.args.get("where")
        compared = (
            side
            for node in (where.find_all(*_FILTERS) if where is not None else ())
            for side in (node.this, node.args.get("expression"))
            if isinstance(side, exp.Column)
        )
        for column in compared:
            source = scope.sources.get(column.table)
            info = ctx.db_catalog.table(source.name) if isinstance(source, exp.Table) else None
            held = info.column(column.name) if info is not None else None
            # A sampled value proves the column holds something, for free: most filters stop here.
            if info is None or held is None or held.samples or f"{info.name}.{held.name}" in empty:
                continue
            stored = _found(ctx, info.name, exp.column(held.name).is_(exp.null()).not_())
            # An empty table is another reason; a failed lookup (None) concludes nothing.
            if stored is False and _found(ctx, info.name, exp.true()):
                empty.append(f"{info.name}.{held.name}")
    return empty


_KEY_VALUE = re.compile(r"(?<![\w`])`?([A-Za-z_][A-Za-z0-9_]*)`?\s*[=#:]?\s*(\d+)\b")
_COMPARED = frozenset("above below over under than least most after before since until within".split())


def missing_keys(question: str, ctx: RunContext) -> list[str]:
    """Key values the question names (``the conference with `cid` 1001``, "order_id 42") that no row the
    caller may read holds, as ``"cid 1001"``. Only key columns count: "above age 20" compares a measure.
    """
    named = [
        (match.group(1), match.group(2))
        for match in _KEY_VALUE.finditer(question)
        if _key_name(match.group(1)) and not set(words(question[: match.start()])[-1:]) & _COMPARED
    ]
    if not named:
        return []  # the usual case ("top 5", "in 2024"): no walk over a schema of thousands of tables
    readable = permitted_catalog(ctx.db_catalog, ctx.dialect, ctx.policy).permitted
    missing = []
    for name, number in named:
        holders = [
            (key, column)
            for key, info in ctx.db_catalog.tables.items()
            if (column := info.column(name)) is not None
            and column.name.lower() in readable.get(key.lower(), frozenset())
        ]
        # all() over [] is True: a key no readable table holds says nothing. A failed lookup (None) neither.
        if holders and all(_found(ctx, key, _key_eq(column, number)) is False for key, column in holders):
            missing.append(f"{name} {number}")
    return missing


def _key_name(name: str) -> bool:
    """An identifier's name: ``id``, ``order_id``, ``makeId``, or a short one such as ``cid``. Many databases
    declare no keys (defog's SQLite files), so the name is what tells; "paid" or "valid" is no key."""
    return (
        name.lower() == "id"
        or name.lower().endswith("_id")
        or name.endswith("Id")
        or name.endswith("ID")
        or (len(name) == 3 and name.lower().endswith("id"))
    )


def _key_eq(column: ColumnInfo, number: str) -> exp.Expression:
    # A text key holding digits is compared as text: PostgreSQL refuses text = integer.
    value = exp.Literal.string(number) if _is_text(column.type) else exp.Literal.number(number)
    return exp.column(column.name).eq(value)


def _held_anywhere(texts: list[str], ctx: RunContext) -> set[str] | None:
    """Which of ``texts`` (lower-cased) some readable text column holds, in any letter case; ``None`` when
    :data:`NAME_BUDGET_S` ran out before every table was searched (a big schema: nothing is concluded)."""
    wanted = {text.strip().lower() for text in texts}
    readable = permitted_catalog(ctx.db_catalog, ctx.dialect, ctx.policy).permitted
    found: set[str] = set()
    deadline = time.monotonic() + NAME_BUDGET_S
    for key, info in ctx.db_catalog.tables.items():
        columns = _text_columns(info, readable.get(key.lower(), frozenset()))
        if not columns:
            continue
        if time.monotonic() > deadline:
            return None
        for text in sorted(wanted - found):
            held = _found(ctx, key, exp.or_(*(_holds(column.name, text) for column in columns)))
            if held is None:
                return None
            if held:
                found.add(text)
        if found == wanted:
            break
    return found


def _holds(column: str, text: str) -> exp.Expression:
    """``column`` equal to ``text`` in any letter case, or, for one word, containing it."""
    if " " in text:
        return _eq(column, text, folded=True)
    return exp.func("lower", exp.column(column)).like(exp.Literal.string(f"%{text}%"))


def _compared(select: exp.Expr) -> Iterator[tuple[exp.Column, exp.Literal]]:
    where = select.args.get("where")
    if where is None:
        return
    for node in where.find_all(exp.EQ, exp.In):
        if isinstance(node, exp.EQ):
            pairs = [(node.this, node.expression), (node.expression, node.this)]
        else:
            pairs = [(node.this, value) for value in node.expressions]
        for column, literal in pairs:
            if isinstance(column, exp.Column) and isinstance(literal, exp.Literal) and literal.is_string:
                yield column, literal


def _squeezed(text: str) -> str:
    return "".join(text.lower().split())


def _squeezed_eq(column: str, squeezed: str) -> exp.Expression:
    """``column`` equal to ``squeezed`` once lower-cased with its spaces taken out."""
    lowered = exp.func("lower", exp.column(column))
    return exp.func("replace", lowered, exp.Literal.string(" "), exp.Literal.string("")).eq(
        exp.Literal.string(squeezed)
    )


def _eq(column: str, value: str, *, folded: bool = False) -> exp.Expression:
    """``column = 'value'``; ``folded``: ignoring letter case and surrounding blanks."""
    if folded:
        trimmed = exp.func("lower", exp.func("trim", exp.column(column)))
        return trimmed.eq(exp.Literal.string(value.strip().lower()))
    return exp.column(column).eq(exp.Literal.string(value))


def _hints(ctx: RunContext, item: Filter, readable: frozenset[str], types: dict[str, str]) -> list[str]:
    quoted = exp.Literal.string(item.value).sql()
    # In catalog order: a set's order changes from one process to the next, and so would the hint.
    others = [c for c, kind in types.items() if c in readable and c != item.column and _is_text(kind)]
    holders = [c for c in others[:MAX_OTHER_COLUMNS] if _exists(ctx, item.table, _eq(c, item.value, folded=True))]
    if not holders:
        # Values that merely contain the word were tried as hints too: the model's second query was no
        # better for them on the evaluation subsets, and each hint costs a full prompt.
        return []
    where = ", ".join(f"{item.table}.{c}" for c in holders[:2])
    return [f"no row has {item.table}.{item.column} = {quoted}; that value is in {where}"]


def _holds_no_names(table: TableInfo, column: ColumnInfo) -> bool:
    """A key (primary, foreign, or ``..._id`` by name) or a date stored as text: no one's name is in it."""
    named = words(column.name)
    keyed = any(column.name in fk.columns for fk in table.foreign_keys)
    return column.primary_key or keyed or named[-1:] == ["id"] or bool({"date", "time"} & set(named))


def _text_columns(table: TableInfo, readable: frozenset[str]) -> list[ColumnInfo]:
    """The text columns of ``table`` among the ``readable`` (lower-case) names, in catalog order."""
    return [column for column in table.columns if column.name.lower() in readable and _is_text(column.type)]


def _is_text(type_name: str) -> bool:
    return any(t in type_name.lower() for t in _TEXT_TYPES)


def _exists(ctx: RunContext, table: str, condition: exp.Expression) -> bool:
    return bool(_found(ctx, table, condition))


def _found(ctx: RunContext, table: str, condition: exp.Expr) -> bool | None:
    """Whether a row of ``table`` meets ``condition``; ``None`` when the lookup failed (timed out, say).

    A refusal that says the data lacks something must not rest on a lookup that never finished.
    """
    rows = _run_or_none(ctx, exp.select("1").from_(table).where(condition).limit(1))
    return None if rows is None else bool(rows)


def _distinct(ctx: RunContext, table: str, column: str, condition: exp.Expression) -> list[str]:
    query = exp.select(exp.column(column)).distinct().from_(table).where(condition).limit(3)
    return [str(row[0]) for row in _run(ctx, query) if row[0] is not None]


def _run(ctx: RunContext, query: exp.Select) -> tuple[tuple[object, ...], ...]:
    """A lookup, validated like any query under the caller's policy; any failure finds nothing."""
    return _run_or_none(ctx, query) or ()


def _run_or_none(ctx: RunContext, query: exp.Select) -> tuple[tuple[object, ...], ...] | None:
    """:func:`_run`, but ``None`` when the lookup failed."""
    try:
        checked = validate_sql(
            query.sql(dialect=ctx.dialect), dialect=ctx.dialect, catalog=ctx.db_catalog, policy=ctx.policy
        )
        timeout = min(LOOKUP_TIMEOUT_S, ctx.statement_timeout_s)
        return ctx.executor.run(checked.sql, max_rows=3, timeout_s=timeout).rows
    except Nl2SqlError:
        return None
