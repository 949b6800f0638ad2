"""Tidying a draft's joins before it is checked: slips small models make on most schemas.

1. A join nothing reads. ``SELECT t1.name FROM singer AS t1 JOIN singer_in_concert AS t2 ON ...`` for
   "the singer whose song has 'Hey' in it" repeats each singer once per concert. A plain key join whose
   table no other part of the query reads is dropped. Not in queries that count or group (the join's
   rows are the point), nor under DISTINCT or when the question names the joined table (the join is the
   "those that have one" filter), nor when its condition does more than match one pair of columns.
2. A join condition that compares a column with itself (``ON t2.makeid = t2.makeid``), or two columns of
   one earlier table without reading the joined one (``LEFT JOIN car_makers AS t2 ON t1.continent =
   t1.countryid``): no join condition at all, so a cross join. When one foreign key links the joined table
   to an earlier one, that key is what was meant.

3. Two tables no key links, joined on a key of each (``regions AS r JOIN sales AS s ON r.region_id =
   s.store_id``): when exactly one table holds a key to each of those two columns (``stores``), it is the
   link the model skipped, and is put between them.

4. ``NOT EXISTS (SELECT 1 FROM has_pet AS h JOIN pets AS p ON ... WHERE p.pettype = 'cat')`` that reads
   nothing of the outer query: the same answer for every row, so "students without a cat" gives all or
   none. When one foreign key links a table of the subquery to one of the outer query, it correlates them.

All run on the AST; what comes out goes through ``validate_sql`` like any draft.
"""

from __future__ import annotations

from sqlglot import exp

from nl2sql_agent.db.types import SchemaCatalog, TableInfo
from nl2sql_agent.lexicon import FUNCTION_WORDS, stems, stems_of
from nl2sql_agent.safety.autofix import joined_tables, key_condition, key_pairs, put_between
from nl2sql_agent.sqltext import rewritten

CUES = ("join", "exists")
"""What a draft mentions when it has joins or EXISTS to tidy (most drafts read one table)."""


def tidy_joins(sql: str, *, dialect: str, catalog: SchemaCatalog, question: str = "") -> str | None:
    """``sql`` without unread joins and with self-comparing join conditions put on their key; ``None`` if
    neither applied.

    Example:
        ``SELECT s.name FROM singer AS s JOIN singer_in_concert AS c ON s.singer_id = c.singer_id`` becomes
        ``SELECT s.name FROM singer AS s``.
    """
    return rewritten(sql, dialect, CUES, lambda tree: tidy(tree, catalog=catalog, question=question))


def tidy(tree: exp.Expr, *, catalog: SchemaCatalog, question: str = "") -> bool:
    """:func:`tidy_joins` on a parsed draft, in place; whether anything changed."""
    changed = _correlate_exists(tree, catalog)
    asked = stems(question)
    for select in list(tree.find_all(exp.Select)):
        changed |= _key_self_comparisons(select, catalog)
        changed |= _drop_unread_joins(select, catalog, asked)
        # After the drop: a join nothing reads needs no link table, it goes.
        changed |= _bridge_unlinked_keys(select, catalog)
    return changed


def _is_column_pair(condition: exp.Expression | None) -> bool:
    return (
        isinstance(condition, exp.EQ)
        and isinstance(condition.this, exp.Column)
        and isinstance(condition.expression, exp.Column)
    )


def _compares_within_one_table(equality: exp.EQ, condition: exp.Expression, joined: exp.Table) -> bool:
    """``a.x = a.x``, or ``a.x = a.y`` in an ON that never reads the joined table: no join condition at all."""
    if not _is_column_pair(equality):
        return False
    left, right = equality.this, equality.expression
    if left.sql().lower() == right.sql().lower():
        return True
    alias = joined.alias_or_name.lower()
    same_table = bool(left.table) and left.table.lower() == right.table.lower() != alias
    return same_table and all(c.table.lower() != alias for c in condition.find_all(exp.Column))


def _key_self_comparisons(select: exp.Select, catalog: SchemaCatalog) -> bool:
    changed = False
    earlier: list[exp.Table] = []
    for join, table in joined_tables(select):
        condition = join.args.get("on") if join is not None else None
        if condition is None:
            earlier.append(table)
            continue
        for equality in list(condition.find_all(exp.EQ)):
            if not _compares_within_one_table(equality, condition, table):
                continue
            links = [
                (other.alias_or_name, pairs)
                for other in earlier
                for pairs in key_pairs(catalog, other.name.lower(), table.name.lower())
            ]
            if len(links) == 1:
                alias, pairs = links[0]
                equality.replace(key_condition(pairs, alias, table.alias_or_name))
                changed = True
        earlier.append(table)
    return changed


def _bridge_unlinked_keys(select: exp.Select, catalog: SchemaCatalog) -> bool:
    changed = False
    joined = joined_tables(select)
    by_alias = {table.alias_or_name.lower(): table for _, table in joined}
    for join, table in joined:
        condition = join.args.get("on") if join is not None else None
        if join is None or not isinstance(condition, exp.EQ) or not _is_column_pair(condition):
            continue
        sides = {column.table.lower(): column.name.lower() for column in (condition.this, condition.expression)}
        mine = table.alias_or_name.lower()
        if len(sides) != 2 or mine not in sides or not set(sides) <= set(by_alias):
            continue
        other = next(alias for alias in sides if alias != mine)
        own_name, other_name = table.name.lower(), by_alias[other].name.lower()
        if own_name == other_name or key_pairs(catalog, other_name, own_name):
            continue  # a self-join, or tables a key links: the condition is the model's to choose
        taken = {t.name.lower() for _, t in joined}
        other_end, own_end = catalog.table(other_name), catalog.table(own_name)
        # Only tables that could hold a key to both ends are asked for their keys: schemas can be large.
        near = [
            link
            for link in catalog.tables.values()
            if link.name.lower() not in taken
            and _may_key(link, other_end, sides[other])
            and _may_key(link, own_end, sides[mine])
        ]
        links = [
            (link.name, to_other[0], to_mine[0])
            for link in near
            for to_other, to_mine in [
                (key_pairs(catalog, link.name, other_name), key_pairs(catalog, link.name, own_name))
            ]
            if _keys_on(to_other, sides[other]) and _keys_on(to_mine, sides[mine])
        ]
        if len(links) == 1:
            link, to_other, to_mine = links[0]
            put_between(select, join, link, to_other, to_mine, ends=(mine, other), used=set(by_alias))
            changed = True
    return changed


def _may_key(link: TableInfo, end: TableInfo | None, column: str) -> bool:
    """Whether ``link`` might hold a key to ``end``: by declaration either way, or by sharing ``column``."""
    if end is None:
        return False
    declared = any(fk.ref_table.lower() == end.name.lower() for fk in link.foreign_keys) or any(
        fk.ref_table.lower() == link.name.lower() for fk in end.foreign_keys
    )
    return declared or link.column(column) is not None


def _keys_on(pairs: list[list[tuple[str, str]]], column: str) -> bool:
    """Exactly one key, on ``column`` alone of the table it reaches."""
    return len(pairs) == 1 and [far.lower() for _, far in pairs[0]] == [column]


def _correlate_exists(tree: exp.Expr, catalog: SchemaCatalog) -> bool:
    changed = False
    for exists in list(tree.find_all(exp.Exists)):
        inner, outer = exists.this, exists.parent_select
        if not isinstance(inner, exp.Select) or outer is None:
            continue
        inside = [table for _, table in joined_tables(inner)]
        aliases = {table.alias_or_name.lower() for table in inside}
        columns = list(inner.find_all(exp.Column))
        if not inside or any(not c.table or c.table.lower() not in aliases for c in columns):
            continue  # reads the outer query already, or by bare names that might
        outside = [table for _, table in joined_tables(outer)]
        links = [
            (mine, theirs, pairs)
            for mine in inside
            for theirs in outside
            if mine.name.lower() != theirs.name.lower()
            for pairs in key_pairs(catalog, mine.name.lower(), theirs.name.lower())
        ]
        if len(links) == 1:
            mine, theirs, pairs = links[0]
            inner.where(key_condition(pairs, mine.alias_or_name, theirs.alias_or_name), copy=False)
            changed = True
    return changed


def _drop_unread_joins(select: exp.Select, catalog: SchemaCatalog, asked: frozenset[str]) -> bool:
    if select.args.get("distinct"):
        return False  # DISTINCT over a join reads as "those that have one": the join is the filter
    if any(isinstance(e, exp.Star) or (isinstance(e, exp.Column) and e.is_star) for e in select.expressions):
        return False
    # COUNT(*) over a join counts the joined rows: there the join is the question unless the question never
    # names what only the joined table is about ("publications in each journal" through
    # publication_keyword). An AVG or a SUM of the other tables' columns is weighed wrongly by repeats.
    counted = bool(select.args.get("group")) or any(True for _ in select.find_all(exp.Count))
    changed = False
    tables = joined_tables(select)
    for join, table in tables:
        if join is None or join.side or (join.kind or "INNER").upper() != "INNER":
            continue
        condition = join.args.get("on")
        if not isinstance(condition, exp.EQ) or not _is_column_pair(condition):
            continue
        name = table.name.lower()
        if sum(1 for t in select.find_all(exp.Table) if t.name.lower() == name) > 1:
            continue  # a self-join compares rows of one table: never "unread"
        own = stems(name) - FUNCTION_WORDS
        if counted:
            # Only a key of one name on both sides (``p.pid = pk.pid``): ``a.airportcode = f.destairport``
            # for "the most frequent destination" counts the rows the question is about.
            others = stems_of(t.name for _, t in tables if t is not table)
            if not own - others or (own - others) & asked or not _same_name_key(condition):
                continue
        elif own <= asked:
            continue  # "singers who performed in a concert": the question asks for the match
        through = _read_only_through_key(select, join, table, condition, catalog)
        if through is not None:
            for read, replacement in through:
                read.replace(replacement.copy())
            join.pop()
            changed = True
    return changed


def _same_name_key(condition: exp.EQ) -> bool:
    return condition.this.name.lower() == condition.expression.name.lower()


def _read_only_through_key(
    select: exp.Select, join: exp.Join, table: exp.Table, condition: exp.EQ, catalog: SchemaCatalog
) -> list[tuple[exp.Column, exp.Column]] | None:
    """The reads of ``table`` outside ``join``, each paired with the other side of the key it was joined on;
    ``None`` if it is read otherwise (any other column: the table is read, the join stays)."""
    alias = table.alias_or_name.lower()
    mine, theirs = condition.this, condition.expression
    if mine.table.lower() != alias:
        mine, theirs = theirs, mine
    # A condition that does not say which side is the joined table's (bare names): no read can be moved.
    key = mine.name.lower() if mine.table.lower() == alias and theirs.table.lower() != alias else None
    reads: list[tuple[exp.Column, exp.Column]] = []
    info = catalog.table(table.name)
    own = {c.name.lower() for c in info.columns} if info is not None else set()
    for column in select.find_all(exp.Column):
        if _inside(column, join):
            continue
        if column.is_star and not column.table:
            return None
        if column.table.lower() == alias:
            if column.name.lower() != key:
                return None
            reads.append((column, theirs))
        elif not column.table and column.name.lower() in own:
            return None
    return reads


def _inside(node: exp.Expression, ancestor: exp.Expression) -> bool:
    parent = node.parent
    while parent is not None:
        if parent is ancestor:
            return True
        parent = parent.parent
    return False
