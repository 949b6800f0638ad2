"""Static bounds on the work a query can ask for.

These checks refuse the obviously explosive shapes (huge series, blob bombs, unbounded recursion,
cross products of unrelated tables). They do not try to prove termination: the database's own
statement timeout and row cap remain the real guard.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from datetime import date

from sqlglot import exp

from nl2sql_agent.safety.catalog import table_key
from nl2sql_agent.safety.policy import SqlPolicy

_UNIT_DAYS = {
    "second": 1 / 86400, "minute": 1 / 1440, "hour": 1 / 24, "day": 1, "week": 7,
    "month": 28, "quarter": 89, "year": 365,
}  # fmt: skip


def int_literal(node: exp.Expression | None) -> int | None:
    """The integer value of a numeric literal (``-1``, ``(5)``, ``1e6``), else ``None``."""
    while isinstance(node, exp.Paren):
        node = node.this
    sign = 1
    if isinstance(node, exp.Neg):
        sign, node = -1, node.this
    if isinstance(node, exp.Literal) and not node.is_string:
        try:
            value = float(node.this)
        except ValueError:
            return None
        if math.isfinite(value):
            return sign * int(value)
    return None


def _date_literal(node: exp.Expression | None) -> date | None:
    if isinstance(node, exp.Cast):
        node = node.this
    if isinstance(node, exp.Literal) and node.is_string:
        try:
            return date.fromisoformat(str(node.this)[:10])
        except ValueError:
            return None
    return None


_NOW_NODES = (exp.CurrentDate, exp.CurrentTimestamp, exp.Localtimestamp)


def _date_value(node: exp.Expression | None) -> float | None:
    """Days since 1970 of a date literal or ``now()``/``current_date`` shifted by literal intervals."""
    while isinstance(node, (exp.Paren, exp.Cast)):
        node = node.this
    if isinstance(node, (exp.TimestampTrunc, exp.DateTrunc)):
        node = node.this
        while isinstance(node, (exp.Paren, exp.Cast)):
            node = node.this
    if isinstance(node, _NOW_NODES) or (isinstance(node, exp.Anonymous) and node.name.lower() == "now"):
        return float((date.today() - date(1970, 1, 1)).days)
    literal = _date_literal(node)
    if literal is not None:
        return float((literal - date(1970, 1, 1)).days)
    if isinstance(node, (exp.Add, exp.Sub)):
        base, shift = _date_value(node.this), _interval_days(node.expression)
        if base is not None and shift is not None:
            return base + shift if isinstance(node, exp.Add) else base - shift
    return None


def _interval_days(node: exp.Expression | None) -> float | None:
    text: str | None = None
    while isinstance(node, exp.Paren):
        node = node.this
    if isinstance(node, exp.Interval):
        unit = node.args.get("unit")
        text = f"{node.this.name if node.this else ''} {unit.name if unit else ''}"
    elif isinstance(node, exp.Cast) and node.to.is_type(exp.DataType.Type.INTERVAL):
        text = node.this.name
    elif isinstance(node, exp.Literal) and node.is_string:
        text = node.name
    if not text:
        return None
    parts = text.lower().split()
    if len(parts) != 2:
        return None
    try:
        amount = float(parts[0])
    except ValueError:
        return None
    days = _UNIT_DAYS.get(parts[1].rstrip("s"))
    if days is None or amount <= 0:
        return None
    return amount * days


def series_size(node: exp.GenerateSeries) -> int | None:
    """How many rows ``generate_series(start, end[, step])`` yields, when its arguments are literals."""
    start, end, step = node.args.get("start"), node.args.get("end"), node.args.get("step")
    lo, hi = int_literal(start), int_literal(end)
    if lo is not None and hi is not None:
        by = 1 if step is None else int_literal(step)
        if not by:
            return None
        return max(0, (hi - lo) // by + 1)
    first, last = _date_value(start), _date_value(end)
    if first is not None and last is not None:
        by_days = 1.0 if step is None else _interval_days(step)
        if by_days is None:
            return None
        return max(0, int((last - first) / by_days) + 1)
    return None


def _bounded_size_arg(node: exp.Expression | None, limit: int) -> bool:
    """A size argument is fine when it is a small literal or a plain column (bounded by the data)."""
    if isinstance(node, exp.Column):
        return True
    value = int_literal(node)
    return value is not None and value <= limit


def _format_widths_ok(fmt: exp.Expression | None, limit: int) -> bool:
    # printf/format widths allocate memory: '%1000000000d' is a blob bomb.
    if not (isinstance(fmt, exp.Literal) and fmt.is_string):
        return False
    text, i = str(fmt.this), 0
    while i < len(text):
        if text[i] != "%":
            i += 1
            continue
        i += 1
        number = ""
        while i < len(text) and (text[i].isdigit() or text[i] in "*.-+ #0,!$"):
            if text[i] == "*":
                return False
            number = number + text[i] if text[i].isdigit() else ""
            if number and int(number) > limit:
                return False
            i += 1
    return True


_BUILDER_NAMES = frozenset({"randomblob", "zeroblob", "printf", "format", "repeat", "lpad", "rpad"})


def _is_builder(node: exp.Expression) -> bool:
    if isinstance(node, (exp.Repeat, exp.Pad, exp.Format)):
        return True
    return isinstance(node, exp.Anonymous) and node.name.lower() in _BUILDER_NAMES


def _repeat_ok(node: exp.Repeat, limit: int) -> bool:
    times, text = node.args.get("times"), node.this
    if isinstance(times, exp.Column):
        return isinstance(text, exp.Literal) and len(str(text.this)) <= 100
    count = int_literal(times)
    if count is None:
        return False
    if isinstance(text, exp.Literal):
        return count * max(1, len(str(text.this))) <= limit
    # A column or expression repeated: its own length is unknown, so keep the count small.
    return count <= min(limit, 1000)


def function_bound_reasons(node: exp.Expression, policy: SqlPolicy) -> Iterator[str]:
    """Reasons a single function call would build too much data."""
    blob = policy.max_blob_bytes
    nested = _is_builder(node) and any(_is_builder(f) for f in node.find_all(exp.Func) if f is not node)
    if nested:
        yield "string builders (repeat, lpad, printf, randomblob, ...) cannot be nested"
    if isinstance(node, exp.GenerateSeries):
        size = series_size(node)
        if size is None:
            yield "generate_series needs literal bounds (numbers, or dates with a literal interval step)"
        elif size > policy.max_generated_rows:
            yield f"generate_series would produce {size} rows (limit {policy.max_generated_rows})"
    elif isinstance(node, exp.Repeat) and not _repeat_ok(node, blob):
        yield f"repeat() would build more than {blob} characters; use a small literal count"
    elif isinstance(node, exp.Pad) and not _bounded_size_arg(node.expression, blob):
        yield f"lpad/rpad length must be a literal of at most {blob} or a column"
    elif isinstance(node, exp.Format) and not _format_widths_ok(node.this, blob):
        yield f"format() needs a literal format string without widths over {blob}"
    elif isinstance(node, exp.Anonymous):
        name = node.name.lower()
        args = node.expressions
        if name in {"randomblob", "zeroblob"} and not (args and _bounded_size_arg(args[0], blob)):
            yield f"{name}() size must be a literal of at most {blob} bytes"
        elif name in {"printf", "format"} and not (args and _format_widths_ok(args[0], blob)):
            yield f"{name}() needs a literal format string without widths over {blob}"


def _conjuncts(node: exp.Expression | None) -> list[exp.Expression]:
    if node is None:
        return []
    return list(node.flatten()) if isinstance(node, exp.And) else [node]


def _has_literal_bound(where: exp.Where | None, policy: SqlPolicy) -> bool:
    for cond in _conjuncts(where.this if where else None):
        while isinstance(cond, exp.Paren):
            cond = cond.this
        if isinstance(cond, (exp.LT, exp.LTE)):
            bound = cond.expression
        elif isinstance(cond, (exp.GT, exp.GTE)):
            bound = cond.this
        elif isinstance(cond, exp.Between):
            bound = cond.args.get("high")
        else:
            continue
        value = int_literal(bound)
        if value is not None and value <= policy.max_recursion:
            return True
        if _date_literal(bound) is not None:
            return True
    return False


def recursion_reasons(with_: exp.With, policy: SqlPolicy) -> Iterator[str]:
    """Reasons the recursive CTEs of ``with_`` may not run."""
    if not with_.args.get("recursive"):
        return
    for cte in with_.expressions:
        name = cte.alias_or_name.lower()
        body = cte.this
        members = list(body.flatten()) if isinstance(body, exp.SetOperation) else [body]
        recursive = [m for m in members[1:] if any(t.name.lower() == name and not t.db for t in m.find_all(exp.Table))]
        if not recursive:
            continue
        if not policy.allow_recursive_cte:
            yield f"recursive CTE {name} is not allowed"
            continue
        for member in recursive:
            where = member.args.get("where") if isinstance(member, exp.Select) else None
            if not _has_literal_bound(where, policy):
                yield (
                    f"recursive CTE {name} needs a bound in its recursive step, "
                    f"e.g. WHERE n < 100 (at most {policy.max_recursion})"
                )


def _source_size(source: exp.Expression, row_counts: Mapping[str, int | None], dialect: str) -> int | None:
    if isinstance(source, exp.Table) and isinstance(source.this, exp.GenerateSeries):
        return series_size(source.this)
    if isinstance(source, exp.Table) and isinstance(source.this, exp.Identifier):
        return row_counts.get(table_key(source.name, source.db or None, dialect))
    return None


_SMALL_SOURCE = 1000


def _single_row(source: exp.Expression, select: exp.Select) -> bool:
    query: exp.Expression | None = None
    if isinstance(source, exp.Subquery):
        query = source.this
    elif isinstance(source, exp.Table) and not source.db:
        root = select.root()
        for cte in root.find_all(exp.CTE):
            if cte.alias_or_name.lower() == source.name.lower():
                query = cte.this
    if isinstance(query, exp.Values):
        return len(query.expressions) <= _SMALL_SOURCE
    if not isinstance(query, exp.Select) or query.args.get("group") or query.args.get("from_") is None:
        return isinstance(query, exp.Select) and query.args.get("from_") is None
    return any(isinstance(e.unalias(), exp.AggFunc) for e in query.expressions) and not any(
        isinstance(e.unalias(), exp.Column) for e in query.expressions
    )


class _Groups:
    """Union-find over a FROM clause's sources: sources in one group are joined by some condition."""

    def __init__(self, size: int) -> None:
        self.parent = list(range(size))

    def find(self, i: int) -> int:
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def union(self, i: int, j: int) -> None:
        self.parent[self.find(i)] = self.find(j)

    def count(self) -> int:
        return len({self.find(i) for i in range(len(self.parent))})


def _join_groups(select: exp.Select, sources: list[exp.Expression]) -> tuple[_Groups, int]:
    """Group sources linked by ON/USING or WHERE equalities; also count unattributable equalities."""
    groups = _Groups(len(sources))
    names = [s.alias_or_name.lower() for s in sources]
    for index, join in enumerate(select.args.get("joins") or [], start=1):
        conditioned = join.args.get("on") is not None or join.args.get("using") or join.method
        if conditioned or join.kind in ("SEMI", "ANTI") or isinstance(join.this, exp.Lateral):
            groups.union(index, 0)
    loose_links = 0
    for cond in _conjuncts(select.args["where"].this if select.args.get("where") else None):
        tables = {c.table.lower() for c in cond.find_all(exp.Column)}
        linked = [names.index(t) for t in tables if t in names]
        if len(linked) >= 2:
            for other in linked[1:]:
                groups.union(linked[0], other)
        elif any(not c.table for c in cond.find_all(exp.Column)) and isinstance(cond, exp.EQ):
            loose_links += 1  # an unqualified a = b may join two sources; give it the benefit
    return groups, loose_links


def cross_join_reasons(
    select: exp.Select, policy: SqlPolicy, row_counts: Mapping[str, int | None], dialect: str
) -> Iterator[str]:
    """Reasons the FROM clause of ``select`` multiplies unrelated row sets."""
    from_ = select.args.get("from_")
    joins = select.args.get("joins") or []
    if from_ is None or not joins:
        return
    sources = [from_.this] + [j.this for j in joins]
    sizes = [_source_size(source, row_counts, dialect) for source in sources]
    groups, loose_links = _join_groups(select, sources)

    largest: dict[int, int] = {}
    for index, size in enumerate(sizes):
        if size is not None:
            root = groups.find(index)
            largest[root] = max(largest.get(root, 0), size)
    if len(largest) >= 2 and groups.count() - loose_links >= 2:
        product = math.prod(largest.values())
        if product > policy.max_generated_rows:
            yield (
                f"cross join would produce about {product} rows "
                f"(limit {policy.max_generated_rows}); add a join condition"
            )
            return

    for index, source in enumerate(sources):
        # A one-row aggregate ("CROSS JOIN totals") or a short literal series multiplies little.
        size = sizes[index]
        if _single_row(source, select) or (size is not None and size <= _SMALL_SOURCE):
            groups.union(index, 0)
    unrelated = groups.count() - loose_links
    if unrelated >= 3:
        yield f"{unrelated} tables are cross-joined without any join condition; add ON conditions"
