"""Deterministic fixes of a draft's unambiguous slips, tried before asking the model again.

Only fixes with one possible intent are made, and the result goes through ``validate_sql`` like any draft.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError
from sqlglot.optimizer.scope import Scope, traverse_scope

from nl2sql_agent.db.types import SchemaCatalog
from nl2sql_agent.safety.catalog import CatalogLike, permitted_catalog
from nl2sql_agent.safety.policy import SqlPolicy
from nl2sql_agent.safety.tables import key_of


@dataclass(frozen=True)
class _Fixing:
    """What every fix reads: the dialect, the caller's readable columns, and the catalog (for its keys)."""

    dialect: str
    permitted: dict[str, frozenset[str]]
    catalog: CatalogLike


_Fix = Callable[[Scope, _Fixing], bool]
"""One kind of fix applied to one scope of the parsed draft, in place; True if it changed anything."""


def requalify_columns(sql: str, *, dialect: str, catalog: CatalogLike, policy: SqlPolicy | None = None) -> str | None:
    """``sql`` with each column moved to the one table of its query that has it, or ``None`` if nothing moved.

    Small models swap table aliases (``T2.country`` where T2 is the link table and T1 the singer table); when
    exactly one other table of the same SELECT has the column, that table is what was meant.
    """
    return _apply(sql, (_requalify,), dialect=dialect, catalog=catalog, policy=policy)


def respell_columns(sql: str, *, dialect: str, catalog: CatalogLike, policy: SqlPolicy | None = None) -> str | None:
    """``sql`` with each unknown column renamed to the one column of its table spelled the same but for
    underscores and case (``pet_type`` for ``PetType``), or ``None`` if nothing changed."""
    return _apply(sql, (_respell,), dialect=dialect, catalog=catalog, policy=policy)


def join_owner_tables(sql: str, *, dialect: str, catalog: CatalogLike, policy: SqlPolicy | None = None) -> str | None:
    """``sql`` with the table that owns an unknown column joined in, when one foreign key links it to
    exactly one table of the query; ``None`` if nothing changed.

    Small models read a column through the table they already have (``hp.power_name`` with ``hp`` the
    link table ``hero_power``) when it lives one join away (``superpower``); with a single key between
    the two, the missing join has one meaning.
    """
    return _apply(sql, (_join_owners,), dialect=dialect, catalog=catalog, policy=policy)


def bridge_joins(sql: str, *, dialect: str, catalog: CatalogLike, policy: SqlPolicy | None = None) -> str | None:
    """``sql`` with the link table put between two tables joined on a column one of them lacks, when
    exactly one table holds that column and one foreign key to each; ``None`` if nothing changed.

    Small models join the two ends of a many-to-many link directly (``employee JOIN shop ON
    employee.shop_id = shop.shop_id``, where ``hiring`` holds ``employee_id`` and ``shop_id``).
    """
    return _apply(sql, (_bridge,), dialect=dialect, catalog=catalog, policy=policy)


def autofix(sql: str, *, dialect: str, catalog: CatalogLike, policy: SqlPolicy | None = None) -> str | None:
    """Every fix that applies, in turn (shared alias, link table, alias, spelling, missing join), on one
    parse of ``sql``; ``None`` if none changed it. The link table goes before the alias move: moving the
    lacking side of ``a.x = b.x`` to the table that has ``x`` would leave ``b.x = b.x``."""
    fixes = (_split_shared_alias, _bridge, _requalify, _respell, _join_owners)
    return _apply(sql, fixes, dialect=dialect, catalog=catalog, policy=policy)


def _apply(
    sql: str, fixes: tuple[_Fix, ...], *, dialect: str, catalog: CatalogLike, policy: SqlPolicy | None
) -> str | None:
    """``sql`` parsed once, each fix run over every scope in turn; the new SQL, or ``None`` if nothing changed."""
    try:
        tree = sqlglot.parse_one(sql, read=dialect)
    except SqlglotError:
        return None
    fixing = _Fixing(dialect, permitted_catalog(catalog, dialect, policy or SqlPolicy()).permitted, catalog)
    changed = False
    for fix in fixes:
        try:
            scopes = traverse_scope(tree)  # afresh: an earlier fix may have joined a table in
        except (SqlglotError, ValueError):
            break
        for scope in scopes:
            changed |= fix(scope, fixing)
    return tree.sql(dialect=dialect) if changed else None


def _split_shared_alias(scope: Scope, fixing: _Fixing) -> bool:
    """``FROM sales s JOIN stores s ON s.store_id = s.store_id``: the second table gets its own alias, and
    each ``s.`` column goes to the one of the two that has it; ``a.x = a.x`` between them puts one side on
    each. Nothing changes when a column could be either table's."""
    select = scope.expression
    if not isinstance(select, exp.Select):
        return False
    tables = [table for _, table in joined_tables(select)]
    used = {t.alias_or_name.lower() for t in tables}
    first_by_alias: dict[str, exp.Table] = {}
    changed = False
    for table in tables:
        alias = table.alias_or_name.lower()
        first = first_by_alias.setdefault(alias, table)
        if first is table:
            continue
        moves = _second_table_columns(scope, alias, _columns_of(first, fixing), _columns_of(table, fixing))
        if moves is None:
            continue
        new = _fresh_alias(table.name, used)
        used.add(new.lower())
        table.set("alias", exp.TableAlias(this=exp.to_identifier(new)))
        for column in moves:
            column.set("table", exp.to_identifier(new))
        changed = True
    return changed


def joined_tables(select: exp.Select) -> list[tuple[exp.Join | None, exp.Table]]:
    """The FROM table (with ``None``) and each joined table, in order; subqueries are skipped."""
    found: list[tuple[exp.Join | None, exp.Table]] = []
    source = select.args.get("from_")
    if source is not None and isinstance(source.this, exp.Table):
        found.append((None, source.this))
    found += [(join, join.this) for join in select.args.get("joins") or [] if isinstance(join.this, exp.Table)]
    return found


def _columns_of(table: exp.Table, fixing: _Fixing) -> frozenset[str]:
    return fixing.permitted.get(key_of(table, fixing.dialect), frozenset())


def _second_table_columns(
    scope: Scope, alias: str, first: frozenset[str], second: frozenset[str]
) -> list[exp.Column] | None:
    """The ``alias.`` columns that belong to the second of two tables sharing ``alias``; ``None`` when any
    column is unknown to both or could belong to either."""
    moves: list[exp.Column] = []
    for column in scope.columns:
        if column.table.lower() != alias:
            continue
        name = column.name.lower()
        if name in second and name not in first:
            moves.append(column)
        elif name in first and name in second:
            equality = column.parent
            if not isinstance(equality, exp.EQ) or equality.this.sql().lower() != equality.expression.sql().lower():
                return None  # only ``s.x = s.x`` says which side is which table's
            if column is equality.expression:
                moves.append(column)
        elif name not in first:
            return None
    return moves


def _requalify(scope: Scope, fixing: _Fixing) -> bool:
    changed = False
    tables = {
        alias.lower(): (alias, key_of(source, fixing.dialect))
        for alias, source in scope.sources.items()
        if isinstance(source, exp.Table)
    }
    sources = {alias.lower() for alias in scope.sources}
    for column in scope.columns:
        bound = tables.get(column.table.lower()) if column.table else None
        name = column.name.lower()
        # A qualifier naming nothing in the query (``t4.drug_name`` with three tables) is a slip like a wrong one.
        unknown = bool(column.table) and column.table.lower() not in sources
        if (bound is None and not unknown) or (bound is not None and name in fixing.permitted.get(bound[1], ())):
            continue
        owners = [alias for alias, key in tables.values() if name in fixing.permitted.get(key, ())]
        if len(owners) == 1:
            column.set("table", exp.to_identifier(owners[0]))
            changed = True
    return changed


def _respell(scope: Scope, fixing: _Fixing) -> bool:
    changed = False
    tables = _scope_tables(scope, fixing.dialect)
    for column in scope.columns:
        name = column.name.lower()
        keys = [tables.get(column.table.lower())] if column.table else list(tables.values())
        if len(keys) != 1 or keys[0] is None or name in fixing.permitted.get(keys[0], ()):
            continue
        spelled = [c for c in fixing.permitted.get(keys[0], ()) if _squashed(c) == _squashed(name)]
        if len(spelled) == 1:
            column.set("this", exp.to_identifier(spelled[0]))
            changed = True
    return changed


def _join_owners(scope: Scope, fixing: _Fixing) -> bool:
    catalog, permitted = fixing.catalog, fixing.permitted
    if not isinstance(catalog, SchemaCatalog):
        return False  # a plain mapping has no keys to join on
    select = scope.expression
    sources = _scope_tables(scope, fixing.dialect)
    if not isinstance(select, exp.Select) or not select.args.get("from_") or None in sources.values():
        return False
    tables = {alias: key for alias, key in sources.items() if key is not None}
    present = set(tables.values())
    joined: dict[str, str] = {}
    for column in scope.columns:
        name = column.name.lower()
        # ``airline.airline_name`` with no airline in FROM: the qualifier names the table to join.
        named = column.table.lower() if column.table and column.table.lower() not in tables else None
        if (named is not None and catalog.table(named) is None) or any(
            name in permitted.get(key, ()) for key in present
        ):
            continue
        links = [
            (owner, alias, pairs)
            for owner, columns in permitted.items()
            if name in columns and owner not in present and (named is None or owner.split(".")[-1] == named)
            for alias, key in tables.items()
            for pairs in key_pairs(catalog, key, owner)
        ]
        if len(links) != 1:
            continue  # no key, or several ways to join: the model must choose
        owner, alias, pairs = links[0]
        if owner not in joined:
            _qualify_unqualified(scope, tables, permitted)
            joined[owner] = _join(select, catalog, owner, alias, pairs, used=set(tables) | set(joined.values()))
        column.set("table", exp.to_identifier(joined[owner]))
    return bool(joined)


def _bridge(scope: Scope, fixing: _Fixing) -> bool:
    catalog, permitted = fixing.catalog, fixing.permitted
    select = scope.expression
    if not isinstance(catalog, SchemaCatalog) or not isinstance(select, exp.Select):
        return False
    tables = {alias: key for alias, key in _scope_tables(scope, fixing.dialect).items() if key is not None}
    changed = False
    for join in list(select.args.get("joins") or ()):
        ends = _lacking_join(join, tables, permitted)
        if ends is None:
            continue
        mine, other, lacking = ends
        links = [
            (bridge, to_other[0], to_mine[0])
            for bridge, columns in permitted.items()
            if lacking in columns and bridge not in tables.values()
            for to_other, to_mine in [
                (key_pairs(catalog, bridge, tables[other]), key_pairs(catalog, bridge, tables[mine]))
            ]
            if len(to_other) == 1 and len(to_mine) == 1 and {a.lower() for a, _ in to_other[0] + to_mine[0]} <= columns
        ]
        if len(links) != 1:
            continue  # no link table, or several: the model must choose
        bridge, to_other, to_mine = links[0]
        alias = put_between(
            select, join, catalog.tables[bridge].name, to_other, to_mine, ends=(mine, other), used=set(tables)
        )
        tables[alias.lower()] = bridge
        changed = True
    return changed


def put_between(
    select: exp.Select,
    join: exp.Join,
    link: str,
    to_other: list[tuple[str, str]],
    to_mine: list[tuple[str, str]],
    *,
    ends: tuple[str, str],
    used: set[str],
) -> str:
    """Put table ``link`` between ``join``'s own table and an earlier one of ``select``; the link's alias.

    ``ends`` are the aliases ``(own, earlier)``; ``to_other`` and ``to_mine`` the ``(link column, column)``
    key pairs to each. The link table joins the earlier one, then ``join``'s table joins the link table.
    """
    mine, other = ends
    alias = _fresh_alias(link, used)
    bridging = exp.Join(
        this=exp.table_(link, alias=alias), on=key_condition(to_other, alias, other), side=join.side or None
    )
    joins = list(select.args["joins"])
    at = joins.index(join)
    select.set("joins", [*joins[:at], bridging, *joins[at:]])
    join.set("on", key_condition(to_mine, alias, mine))
    return alias


def _lacking_join(
    join: exp.Join, tables: Mapping[str, str], permitted: Mapping[str, frozenset[str]]
) -> tuple[str, str, str] | None:
    """``(own alias, other alias, column)`` for ``JOIN own ON own.x = other.y`` where exactly one side lacks
    its column (named ``column``); ``None`` for any other join."""
    condition, own = join.args.get("on"), join.this
    if not isinstance(condition, exp.EQ) or not isinstance(own, exp.Table):
        return None
    sides = [condition.this, condition.expression]
    if not all(isinstance(side, exp.Column) and side.table.lower() in tables for side in sides):
        return None
    aliases = [side.table.lower() for side in sides]
    mine = own.alias_or_name.lower()
    if mine not in aliases or len(set(aliases)) != 2 or tables[aliases[0]] == tables[aliases[1]]:
        return None
    lacking = [
        side.name.lower() for side in sides if side.name.lower() not in permitted.get(tables[side.table.lower()], ())
    ]
    if len(lacking) != 1:
        return None
    return mine, next(a for a in aliases if a != mine), lacking[0]


def _scope_tables(scope: Scope, dialect: str) -> dict[str, str | None]:
    """``alias -> table key`` for the scope's sources; ``None`` for a source that is a subquery or CTE."""
    return {
        alias.lower(): key_of(source, dialect) if isinstance(source, exp.Table) else None
        for alias, source in scope.sources.items()
    }


def _squashed(name: str) -> str:
    return name.lower().replace("_", "").replace(" ", "")


_KEY_SUFFIXES = ("id", "_code", "_key", "_no", "_number")


def key_pairs(catalog: SchemaCatalog, key: str, owner: str) -> list[list[tuple[str, str]]]:
    """For each foreign key between tables ``key`` and ``owner`` (either way), its ``(key column, owner
    column)`` pairs.

    Without a declared key between them, one shared column that is a key of either table, by declaration
    or by name (``airline_code`` in both ``flight`` and ``airline``), stands for one: many schemas (dumps,
    data warehouses) declare none.
    """
    found = _declared_key_pairs(catalog, key, owner)
    if found:
        return found
    table, other = catalog.table(key), catalog.table(owner)
    if table is None or other is None:
        return []
    names = (table.name.lower(), other.name.lower())
    shared = [
        c.name
        for c in table.columns
        if (match := other.column(c.name)) is not None
        and c.name.lower() != "id"
        and c.name.lower().endswith(_KEY_SUFFIXES)
        and not (c.primary_key and match.primary_key)  # two tables' own ids are not a link
        # A key of one of the two, by declaration or by name: not an attribute both share (time_zone_code).
        and (c.primary_key or match.primary_key or c.name.lower().startswith(names) or _initial_id(c.name, names))
    ]
    return [[(shared[0], other.column(shared[0]).name)]] if len(shared) == 1 else []  # type: ignore[union-attr]


def _initial_id(column: str, tables: tuple[str, ...]) -> bool:
    """``cid`` in ``conference``, ``pid`` in ``publication``: a table's initial and "id" is its key by name."""
    name = column.lower()
    return len(name) == 3 and name.endswith("id") and any(table.startswith(name[0]) for table in tables)


def _declared_key_pairs(catalog: SchemaCatalog, key: str, owner: str) -> list[list[tuple[str, str]]]:
    found = []
    for source, target, flipped in ((key, owner, False), (owner, key, True)):
        table, ref = catalog.table(source), catalog.table(target)
        if table is None or ref is None:
            continue
        for fk in table.foreign_keys:
            if fk.ref_table.lower() != target:
                continue
            refs = fk.ref_columns or tuple(c.name for c in ref.columns if c.primary_key)
            if len(refs) != len(fk.columns) or not refs:
                continue
            pairs = list(zip(fk.columns, refs, strict=True))
            found.append([(b, a) for a, b in pairs] if flipped else pairs)
    return found


def _qualify_unqualified(scope: Scope, tables: Mapping[str, str | None], permitted: dict[str, frozenset[str]]) -> None:
    """Bind each bare column to its one table before a join could make the name ambiguous."""
    for column in scope.columns:
        if column.table:
            continue
        owners = [alias for alias, key in tables.items() if key and column.name.lower() in permitted.get(key, ())]
        if len(owners) == 1:
            column.set("table", exp.to_identifier(owners[0]))


def _join(
    select: exp.Select, catalog: SchemaCatalog, owner: str, alias: str, pairs: list[tuple[str, str]], used: set[str]
) -> str:
    """Join ``owner`` to ``select`` on ``pairs`` against ``alias``; the new table's alias."""
    name = catalog.tables[owner].name
    new_alias = _fresh_alias(name, used)
    select.join(exp.table_(name, alias=new_alias), on=key_condition(pairs, alias, new_alias), copy=False)
    return new_alias


def _fresh_alias(name: str, used: set[str]) -> str:
    """``name``, or ``name_2``, ``name_3``...: the first that no table of the query already goes by."""
    return next(a for a in (name, *(f"{name}_{i}" for i in range(2, 99))) if a.lower() not in used)


def key_condition(pairs: list[tuple[str, str]], left: str, right: str) -> exp.Condition:
    """``left.a = right.b AND ...`` for each ``(a, b)`` of ``pairs``."""
    return exp.and_(*(exp.column(a, table=left).eq(exp.column(b, table=right)) for a, b in pairs))
