"""AST rewrites applied to a query once it is known to be safe: row cap and row filters.

``SELECT *`` expansion is done by sqlglot's ``qualify`` against the permitted schema (see validator.py),
so the SQL that runs names its columns and never reaches a hidden one.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import sqlglot
from sqlglot import exp
from sqlglot.errors import ErrorLevel

from nl2sql_agent.safety.limits import int_literal


class RewriteRefused(ValueError):
    """A rewrite cannot be applied safely; the message says why (shown to the model)."""


def enforce_limit(query: exp.Query, max_rows: int) -> int:
    """Inject ``LIMIT max_rows`` on the outermost query, or clamp a larger one. Returns the limit."""
    limit = query.args.get("limit")
    if isinstance(limit, exp.Fetch):
        options = limit.args.get("limit_options")
        if options is not None and (options.args.get("percent") or options.args.get("with_ties")):
            raise RewriteRefused("FETCH ... PERCENT / WITH TIES is not supported; use LIMIT n")
        count = limit.args.get("count")
        value = 1 if count is None else int_literal(count)
    elif isinstance(limit, exp.Limit):
        value = int_literal(limit.expression)
    elif limit is None:
        value = max_rows
    else:
        raise RewriteRefused("unsupported row limit; use LIMIT n")
    if value is None:
        raise RewriteRefused("LIMIT must be a literal number")
    if value < 0 or value > max_rows:
        # A negative LIMIT means "no limit" in SQLite.
        value = max_rows
    offset = query.args.get("offset")
    if offset is not None:
        skipped = int_literal(offset.expression)
        if skipped is None or skipped < 0:
            raise RewriteRefused("OFFSET must be a literal number")
    query.set("limit", exp.Limit(expression=exp.Literal.number(value)))
    return value


def parse_predicate(predicate: str, dialect: str) -> exp.Expression:
    """Parse a row-filter predicate from the policy (trusted configuration)."""
    statements = sqlglot.parse(f"SELECT 1 WHERE {predicate}", read=dialect, error_level=ErrorLevel.RAISE)
    if len(statements) != 1 or not isinstance(statements[0], exp.Select):
        raise RewriteRefused(f"row filter {predicate!r} is not a single predicate")
    where = statements[0].args.get("where")
    if where is None:
        raise RewriteRefused(f"row filter {predicate!r} is not a predicate")
    return where.this


def apply_row_filters(
    tables: Iterable[exp.Table],
    filters: Mapping[str, exp.Expression],
    key_of: Mapping[int, str],
    columns: Mapping[str, Iterable[str]] | None,
) -> None:
    """Replace each filtered table reference by ``(SELECT cols FROM t WHERE predicate) AS alias``.

    Every reference is rewritten wherever it sits (CTE, subquery, join), and the alias the query used
    is kept, so neither aliasing nor nesting can reach the unfiltered rows.

    Args:
        tables: the real table references of the query.
        filters: ``table key -> parsed predicate``.
        key_of: ``id(table node) -> table key``.
        columns: ``table key -> columns to project``; ``None`` (no catalog) projects ``*``.
    """
    for table in tables:
        key = key_of[id(table)]
        predicate = filters.get(key)
        if predicate is None:
            continue
        if not isinstance(table.parent, (exp.From, exp.Join)):
            raise RewriteRefused(f"table {key} is read in a position that cannot be filtered")
        base = table.name
        condition = predicate.copy()
        for column in condition.find_all(exp.Column):
            if not column.table:
                # Pin the filter's columns to the filtered table so they can never bind to an outer one.
                column.set("table", exp.to_identifier(base))
        inner_table = exp.Table(
            this=exp.to_identifier(base),
            db=table.args.get("db"),
            only=table.args.get("only"),
            alias=exp.TableAlias(this=exp.to_identifier(base)),
        )
        wanted = list(columns[key]) if columns is not None and key in columns else None
        projection: list[exp.Expression] = [exp.column(c, table=base) for c in wanted] if wanted else [exp.Star()]
        inner = exp.Select(expressions=projection).from_(inner_table).where(condition)
        alias = table.args.get("alias")
        alias = alias.copy() if alias is not None else exp.TableAlias(this=exp.to_identifier(base))
        table.replace(exp.Subquery(this=inner, alias=alias))


def _outermost_selects(query: exp.Query) -> list[exp.Select]:
    if isinstance(query, exp.Select):
        return [query]
    if isinstance(query, exp.SetOperation):
        return _outermost_selects(query.left) + _outermost_selects(query.right)
    if isinstance(query, exp.Subquery) and isinstance(query.this, exp.Query):
        return _outermost_selects(query.this)
    return []


def restore_output_names(query: exp.Query) -> None:
    """Undo the ``_col_N`` aliases qualification gives unnamed result columns, where nothing refers to them.

    Only the outermost projections are touched: a CTE's or subquery's generated names may be referenced.
    The result's column names then read as the model wrote them (``COUNT(*)``), not ``_col_0``.
    """
    referenced = {column.name for column in query.find_all(exp.Column)}
    for select in _outermost_selects(query):
        for index, projection in enumerate(select.expressions):
            generated = f"_col_{index}"
            if isinstance(projection, exp.Alias) and projection.alias == generated and generated not in referenced:
                projection.replace(projection.this)


def null_safe_not_in(query: exp.Query) -> None:
    """``x NOT IN (SELECT c ...)`` gets ``WHERE c IS NOT NULL`` in the subquery.

    With one NULL among the subquery's values, SQL's ``NOT IN`` is never true and the query returns
    nothing: "customers who never bought" becomes 0 as soon as one sale has no customer. No question
    means that, so the subquery is made to skip NULLs.
    """
    for negation in list(query.find_all(exp.Not)):
        membership = negation.this
        if not isinstance(membership, exp.In):
            continue
        subquery = membership.args.get("query")
        select = subquery.this if isinstance(subquery, exp.Subquery) else subquery
        if not isinstance(select, exp.Select) or len(select.expressions) != 1:
            continue
        value = select.expressions[0]
        value = value.this if isinstance(value, exp.Alias) else value
        guard = exp.Not(this=exp.Is(this=value.copy(), expression=exp.Null()))
        where = select.args.get("where")
        conjuncts = list(where.this.flatten()) if where is not None and isinstance(where.this, exp.And) else []
        if where is not None and guard in [*conjuncts, where.this]:
            continue  # already skips NULLs (a query validated twice gets one guard)
        select.where(guard, append=True, copy=False)
