"""``validate_sql``: parse one statement, walk the whole tree against allowlists, qualify it against the
permitted schema, then rewrite it (row filters, row cap) into the SQL that will run.

The order matters: structural checks run on the raw tree first (they need no catalog and are cheap),
column checks run on the tree qualified against the *permitted* schema (so ``SELECT *`` can only ever
expand to readable columns), and rewrites run last on a tree that is already known to be safe.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import sqlglot
from sqlglot import exp
from sqlglot.dialects.dialect import Dialect
from sqlglot.errors import ErrorLevel, OptimizeError, ParseError, SqlglotError, TokenError, UnsupportedError
from sqlglot.optimizer.qualify import qualify
from sqlglot.optimizer.scope import Scope, traverse_scope

from nl2sql_agent.errors import ConfigurationError, SQLValidationError, UnsafeSQLError
from nl2sql_agent.safety import functions, limits, nodes, rewrite
from nl2sql_agent.safety.catalog import DEFAULT_SCHEMAS, CatalogLike, PermittedCatalog, permitted_catalog
from nl2sql_agent.safety.policy import SqlPolicy, ValidatedQuery
from nl2sql_agent.safety.tables import key_of, real_tables, scopes_of, table_refusal

_DIALECT_ALIASES = {"postgresql": "postgres", "pg": "postgres", "sqlite3": "sqlite"}
_DEFAULT_POLICY = SqlPolicy()


@dataclass
class _Findings:
    """Problems found so far: ``reasons`` make the query unsafe, ``issues`` merely wrong."""

    reasons: list[str] = field(default_factory=list)
    issues: list[str] = field(default_factory=list)
    denied: list[str] = field(default_factory=list)

    def unsafe(self, reason: str) -> None:
        if reason not in self.reasons:
            self.reasons.append(reason)

    def deny(self, name: str) -> None:
        """``name`` (``table`` or ``table.column``) exists but the caller's policy does not allow it."""
        self.unsafe(f"{'column' if '.' in name else 'table'} {name} is not available to you")
        if name not in self.denied:
            self.denied.append(name)

    def wrong(self, issue: str) -> None:
        if issue not in self.issues:
            self.issues.append(issue)

    def raise_if_any(self, sql: str) -> None:
        if self.reasons:
            raise UnsafeSQLError(_summary(self.reasons), reasons=self.reasons, sql=sql, denied=self.denied)
        if self.issues:
            raise SQLValidationError(_summary(self.issues), issues=self.issues, sql=sql)


def _summary(items: list[str]) -> str:
    return items[0] if len(items) == 1 else f"{items[0]} (and {len(items) - 1} more)"


def validate_sql(
    sql: str,
    *,
    dialect: str,
    catalog: CatalogLike | None = None,
    policy: SqlPolicy | None = None,
) -> ValidatedQuery:
    """Check that ``sql`` is one safe read-only query and rewrite it into the SQL to run.

    Args:
        sql: the SQL text, typically written by a model.
        dialect: sqlglot dialect name of the target database (``"postgres"`` or ``"sqlite"``).
        catalog: the tables the query may name; without one only structural checks run.
        policy: what may be read and how much work may be asked for; defaults to ``SqlPolicy()``.

    Returns:
        The validated query; run its ``sql``, not the input.

    Raises:
        UnsafeSQLError: the query breaks the policy (writes, several statements, system catalogs,
            refused functions, hidden columns, unbounded work, ...). ``reasons`` says which rules.
        SQLValidationError: the query does not parse or names unknown tables/columns. ``issues``
            carry short "did you mean" hints for a repair loop.

    Example:
        >>> from nl2sql_agent.safety import validate_sql
        >>> validate_sql("SELECT name FROM users", dialect="sqlite", catalog={"users": {"name": "TEXT"}}).sql
        'SELECT "users"."name" AS "name" FROM "users" AS "users" LIMIT 1000'
    """
    policy = policy or _DEFAULT_POLICY
    dialect = _dialect_name(dialect)
    root = _parse_single(sql, dialect)
    findings = _Findings()

    _walk(root, dialect, policy, findings)
    findings.raise_if_any(sql)

    permitted = permitted_catalog(catalog, dialect, policy) if catalog is not None else None
    try:
        scopes = scopes_of(root)
    except ValueError as error:
        raise SQLValidationError(f"cannot resolve the query's tables: {error}", sql=sql) from error
    tables = real_tables(root, scopes)
    for table in tables:
        refusal = table_refusal(table, dialect, policy, permitted)
        if refusal is not None:
            message, is_unsafe = refusal
            if is_unsafe and key_of(table, dialect) in (permitted.tables if permitted else {}):
                findings.deny(key_of(table, dialect))
            else:
                (findings.unsafe if is_unsafe else findings.wrong)(message)
    row_counts = {k: t.row_count for k, t in permitted.tables.items()} if permitted else {}
    for select in root.find_all(exp.Select):
        for reason in limits.cross_join_reasons(select, policy, row_counts, dialect):
            findings.unsafe(reason)
    findings.raise_if_any(sql)

    columns_read: frozenset[str] = frozenset()
    if permitted is not None:
        root = _qualify_permitted(root, sql, dialect, permitted, policy)
        rewrite.restore_output_names(root)
        scopes = traverse_scope(root)
        tables = real_tables(root, scopes)
        columns_read = _columns_read(scopes, dialect, permitted, findings)
        _check_join_conditions(root, findings)
    elif policy.hidden_columns:
        _check_hidden_without_catalog(scopes, dialect, policy, findings)
    if policy.hidden_columns:
        _check_table_stars(scopes, dialect, policy, findings)
    findings.raise_if_any(sql)

    read = frozenset(key_of(t, dialect) for t in tables)
    try:
        _apply_row_filters(tables, dialect, policy, permitted)
        rewrite.null_safe_not_in(root)
        applied_limit = rewrite.enforce_limit(root, policy.max_rows)
        # copy=False: the tree is ours and is not reused, and copying it is a sizeable share of the cost.
        final_sql = root.sql(dialect=dialect, comments=False, unsupported_level=ErrorLevel.RAISE, copy=False)
    except rewrite.RewriteRefused as error:
        raise UnsafeSQLError(str(error), sql=sql) from error
    except UnsupportedError as error:
        raise SQLValidationError(f"not supported by {dialect}: {error}", sql=sql) from error
    return ValidatedQuery(
        sql=final_sql,
        original_sql=sql,
        dialect=dialect,
        tables=read,
        columns=columns_read,
        limit=applied_limit,
        expression=root,
    )


def _dialect_name(dialect: str) -> str:
    name = _DIALECT_ALIASES.get(dialect.lower(), dialect.lower())
    try:
        Dialect.get_or_raise(name)
    except ValueError as error:
        raise ConfigurationError(f"unknown SQL dialect {dialect!r}") from error
    return name


def _parse_single(sql: str, dialect: str) -> exp.Query:
    try:
        parsed = sqlglot.parse(sql, read=dialect, error_level=ErrorLevel.RAISE)
    except ParseError as error:
        first = error.errors[0] if error.errors else {}
        where = f" at line {first.get('line')}, column {first.get('col')}" if first.get("line") else ""
        description = first.get("description") or str(error).splitlines()[0]
        raise SQLValidationError(f"syntax error{where}: {description}", sql=sql) from error
    except TokenError as error:
        raise SQLValidationError(f"syntax error: {error}", sql=sql) from error
    # A trailing ";" followed by a comment parses as an empty Semicolon node: ignorable.
    statements = [s for s in parsed if s is not None and not isinstance(s, exp.Semicolon)]
    if not statements:
        raise SQLValidationError("no SQL statement found", sql=sql)
    if len(statements) > 1:
        raise UnsafeSQLError(
            "only one statement may be sent; remove everything after the first ';'",
            reasons=[f"{len(statements)} statements found; only a single SELECT is allowed"],
            sql=sql,
        )
    root = statements[0]
    if not isinstance(root, nodes.ROOT_CLASSES):
        raise UnsafeSQLError(nodes.root_refusal_message(root), sql=sql)
    return root


def _walk(root: exp.Expression, dialect: str, policy: SqlPolicy, findings: _Findings) -> None:
    allowed_funcs = functions.ALLOWED_FUNCTION_CLASSES
    missing = functions.DIALECT_MISSING.get(dialect, {})
    hints = functions.DIALECT_HINTS.get(dialect, {})
    count = 0
    for node in root.walk():
        count += 1
        kind = type(node)
        if kind is exp.Anonymous:
            _check_anonymous(node, dialect, policy, findings, hints)
        elif kind in allowed_funcs:
            if kind in missing:
                findings.wrong(hints[missing[kind]])
            for reason in limits.function_bound_reasons(node, policy):
                findings.unsafe(reason)
        elif kind in nodes.ALLOWED_NODE_CLASSES:
            if kind is exp.In and node.args.get("field") is not None:
                findings.unsafe("IN <table> is not allowed; use IN (SELECT ...)")
            elif kind is exp.With:
                for reason in limits.recursion_reasons(node, policy):
                    findings.unsafe(reason)
            elif kind is exp.Join and node.method and policy.hidden_columns:
                findings.unsafe("NATURAL joins are not allowed when some columns are hidden; use ON")
        elif isinstance(node, exp.Func):
            _check_typed_unlisted(node, dialect, findings, hints)
        else:
            findings.unsafe(nodes.refusal_message(node))
    if count > policy.max_ast_nodes:
        findings.unsafe(f"query is too complex ({count} syntax nodes, limit {policy.max_ast_nodes})")


def _check_anonymous(
    node: exp.Expression, dialect: str, policy: SqlPolicy, findings: _Findings, hints: Mapping[str, str]
) -> None:
    name = functions.function_name(node)
    if not functions.is_plain_name(name):
        findings.unsafe(f"function name {name!r} uses quoting or escapes; call functions by their plain name")
    elif functions.anonymous_allowed(name, dialect, policy.extra_functions):
        for reason in limits.function_bound_reasons(node, policy):
            findings.unsafe(reason)
    elif functions.is_denied_name(name):
        findings.unsafe(f"function {name} is not allowed")
    elif name in hints:
        findings.wrong(hints[name])
    else:
        findings.wrong(f"function {name} is not available here; use standard SQL functions")


def _check_typed_unlisted(node: exp.Func, dialect: str, findings: _Findings, hints: Mapping[str, str]) -> None:
    name = functions.function_name(node)
    if functions.is_denied_name(name):
        findings.unsafe(f"function {name} is not allowed")
    elif name in hints:
        findings.wrong(hints[name])
    else:
        findings.unsafe(f"function {name} is not allowed")


def _qualify_permitted(
    root: exp.Query, sql: str, dialect: str, permitted: PermittedCatalog, policy: SqlPolicy
) -> exp.Query:
    db = DEFAULT_SCHEMAS.get(dialect) if permitted.nested else None
    try:
        return qualify(
            root,
            dialect=dialect,
            schema=permitted.permitted_schema,
            db=db,
            validate_qualify_columns=True,
            quote_identifiers=True,
            # Quote only where needed: the SQL is shown to people and fed back to the model on repairs.
            identify=False,
        )
    except (OptimizeError, SqlglotError) as error:
        findings = _diagnose(sql, dialect, permitted, policy)
        findings.raise_if_any(sql)
        raise SQLValidationError(f"query does not match the schema: {error}", sql=sql) from error


def _diagnose(sql: str, dialect: str, permitted: PermittedCatalog, policy: SqlPolicy) -> _Findings:
    """Explain a failed qualification: which column is hidden, which is unknown, and what was meant."""
    findings = _Findings()
    db = DEFAULT_SCHEMAS.get(dialect) if permitted.nested else None
    try:
        # Tables only: column qualification would stop at the first unknown column, and the point
        # here is to name every one of them.
        root = qualify(
            sqlglot.parse_one(sql, read=dialect),
            dialect=dialect,
            schema=permitted.full_schema,
            db=db,
            qualify_columns=False,
            expand_stars=False,
            validate_qualify_columns=False,
            quote_identifiers=False,
        )
        scopes = traverse_scope(root)
    except SqlglotError:
        return findings
    for scope in scopes:
        for column in scope.columns:
            _diagnose_column(column, scope, dialect, permitted, findings)
    return findings


def _visible_sources(scope: Scope) -> list[exp.Table | Scope]:
    sources: list[exp.Table | Scope] = []
    current: Scope | None = scope
    while current is not None:
        sources.extend(s for s in current.sources.values() if isinstance(s, (exp.Table, Scope)))
        current = current.parent
    return sources


def _diagnose_column(
    column: exp.Column, scope: Scope, dialect: str, permitted: PermittedCatalog, findings: _Findings
) -> None:
    name = column.name.lower()
    if not name or isinstance(column.this, exp.Star):
        return
    if column.table:
        source = scope.sources.get(column.table)
        if source is None and scope.parent is not None:
            source = next((s.sources[column.table] for s in _ancestors(scope) if column.table in s.sources), None)
        if isinstance(source, exp.Table):
            key = key_of(source, dialect)
            elsewhere = _column_elsewhere(name, key, scope, dialect, permitted)
            if elsewhere is not None:
                findings.wrong(f"unknown column {column.table}.{name} ({column.table} is {key}); {elsewhere}")
            else:
                _diagnose_table_column(key, name, permitted, findings)
        elif isinstance(source, Scope):
            outputs = [s.lower() for s in source.expression.named_selects]
            if name not in outputs and "*" not in outputs:
                best = _closest(name, outputs)
                hint = f"; did you mean {column.table}.{best}?" if best else ""
                findings.wrong(f"unknown column {column.table}.{name}{hint}")
        else:
            findings.wrong(f"unknown table or alias {column.table} (in {column.table}.{name})")
        return
    if isinstance(scope.expression, exp.Select) and name in {
        e.alias.lower() for e in scope.expression.expressions if isinstance(e, exp.Alias)
    }:
        return  # a reference to a projection alias (ORDER BY revenue)
    tables: list[str] = []
    for source in _visible_sources(scope):
        if isinstance(source, Scope):
            if name in {s.lower() for s in source.expression.named_selects}:
                return
            continue
        if not isinstance(source.this, exp.Identifier):
            return  # a table function's columns are unknown: give it the benefit
        key = key_of(source, dialect)
        if key not in permitted.permitted:
            continue
        if name in permitted.permitted[key]:
            return
        if name in permitted.tables[key].columns:
            findings.deny(f"{key}.{name}")
            return
        tables.append(key)
    if len(tables) == 1:
        elsewhere = _column_elsewhere(name, tables[0], scope, dialect, permitted)
        if elsewhere is not None:
            findings.wrong(f"unknown column {name} ({tables[0]} has no {name}); {elsewhere}")
        else:
            _diagnose_table_column(tables[0], name, permitted, findings)
        return
    hints = [h for h in (permitted.column_hint(k, name) for k in tables) if h]
    findings.wrong(f"unknown column {name}" + (f"; did you mean {hints[0]}?" if hints else ""))


def _column_elsewhere(name: str, key: str, scope: Scope, dialect: str, permitted: PermittedCatalog) -> str | None:
    """Where a column missing from ``key`` really is: a table of this query (by its alias) or one to join.

    Small models swap aliases (``T2.store_name`` with T2 bound to sales); naming the right alias is the
    hint that gets the next draft right, where a spelling suggestion would not.
    """
    if key in permitted.permitted and name in permitted.permitted[key]:
        return None
    for alias, source in scope.sources.items():
        if isinstance(source, exp.Table):
            other = key_of(source, dialect)
            if other != key and name in permitted.permitted.get(other, ()):
                return f"{name} is a column of {other}, which this query calls {alias}: use {alias}.{name}"
    owners = sorted(k for k, cols in permitted.permitted.items() if name in cols and k != key)
    if owners:
        return f"{name} is a column of {', '.join(owners[:3])}: join that table to use it"
    return None


def _ancestors(scope: Scope) -> list[Scope]:
    out: list[Scope] = []
    current = scope.parent
    while current is not None:
        out.append(current)
        current = current.parent
    return out


def _diagnose_table_column(key: str, name: str, permitted: PermittedCatalog, findings: _Findings) -> None:
    table = permitted.tables.get(key)
    if table is None or key not in permitted.permitted or name in permitted.permitted[key]:
        return
    if name in table.columns:
        findings.deny(f"{key}.{name}")
        return
    hint = permitted.column_hint(key, name)
    findings.wrong(f"unknown column {key}.{name}" + (f"; did you mean {hint}?" if hint else ""))


def _check_join_conditions(root: exp.Expression, findings: _Findings) -> None:
    """A join condition that compares a column with itself (``ON t1.id = t1.id``) is always true: the join
    becomes a cross join, which no question means. (Checked once names are qualified.)"""
    for join in root.find_all(exp.Join):
        condition = join.args.get("on")
        for equality in condition.find_all(exp.EQ) if condition is not None else ():
            left, right = equality.this, equality.expression
            if isinstance(left, exp.Column) and isinstance(right, exp.Column) and left == right:
                joined = join.this.alias_or_name if isinstance(join.this, exp.Table) else "the joined table"
                findings.wrong(
                    f"join condition {equality.sql()} compares a column with itself (always true): "
                    f"match a column of {joined} to the table it joins"
                )


def _closest(name: str, options: Iterable[str]) -> str | None:
    best = difflib.get_close_matches(name, list(options), n=1, cutoff=0.5)
    return best[0] if best else None


def _columns_read(
    scopes: list[Scope], dialect: str, permitted: PermittedCatalog, findings: _Findings
) -> frozenset[str]:
    read: set[str] = set()
    for scope in scopes:
        for column in scope.columns:
            source = scope.sources.get(column.table)
            if not isinstance(source, exp.Table) or not isinstance(source.this, exp.Identifier):
                continue
            key = key_of(source, dialect)
            if isinstance(column.this, exp.Star):
                continue
            name = column.name.lower()
            if name not in permitted.permitted.get(key, frozenset()):
                findings.deny(f"{key}.{name}")
            read.add(f"{key}.{name}")
    return frozenset(read)


def _check_table_stars(scopes: list[Scope], dialect: str, policy: SqlPolicy, findings: _Findings) -> None:
    """Refuse ``t.*`` that survived star expansion (``json_agg(t.*)``): it would serialise hidden columns."""
    for scope in scopes:
        for column in scope.expression.find_all(exp.Column):
            if not isinstance(column.this, exp.Star):
                continue
            source = scope.sources.get(column.table)
            if isinstance(source, exp.Table) and isinstance(source.this, exp.Identifier):
                key = key_of(source, dialect)
                if policy.hidden_in(key):
                    findings.unsafe(f"{column.table}.* cannot be used on {key}: some columns are hidden")


def _check_hidden_without_catalog(scopes: list[Scope], dialect: str, policy: SqlPolicy, findings: _Findings) -> None:
    """Without a catalog stars cannot be expanded, so refuse anything that might reach a hidden column."""
    for scope in scopes:
        hidden_by_alias: dict[str, tuple[str, frozenset[str]]] = {}
        for alias, source in scope.sources.items():
            if isinstance(source, exp.Table) and isinstance(source.this, exp.Identifier):
                key = key_of(source, dialect)
                hidden = policy.hidden_in(key)
                if hidden:
                    hidden_by_alias[alias.lower()] = (key, hidden)
        if not hidden_by_alias:
            continue
        all_hidden = {name: key for key, names in hidden_by_alias.values() for name in names}
        projections = scope.expression.expressions if isinstance(scope.expression, exp.Select) else []
        if any(isinstance(p, exp.Star) for p in projections):
            key = next(iter(hidden_by_alias.values()))[0]
            findings.unsafe(f"SELECT * cannot be used on {key}: some columns are hidden; list the columns")
        for column in scope.columns:
            name = column.name.lower()
            table = column.table.lower()
            if isinstance(column.this, exp.Star) and table in hidden_by_alias:
                findings.unsafe(f"{table}.* cannot be used on {hidden_by_alias[table][0]}; list the columns")
            elif table in hidden_by_alias and name in hidden_by_alias[table][1]:
                findings.unsafe(f"column {hidden_by_alias[table][0]}.{name} is not available to you")
            elif not table and name in all_hidden:
                findings.unsafe(f"column {all_hidden[name]}.{name} is not available to you")
            elif not table and name in hidden_by_alias:
                findings.unsafe(f"whole-row reference {name} is not allowed; list the columns")
        for join in scope.expression.args.get("joins") or []:
            for ident in join.args.get("using") or []:
                name = ident.name.lower()
                if name in all_hidden:
                    findings.unsafe(f"column {all_hidden[name]}.{name} is not available to you")


def _apply_row_filters(
    tables: list[exp.Table], dialect: str, policy: SqlPolicy, permitted: PermittedCatalog | None
) -> None:
    if not policy.row_filters:
        return
    keys = {id(t): key_of(t, dialect) for t in tables}
    filters = {k: rewrite.parse_predicate(p, dialect) for k, p in policy.row_filters.items()}
    columns = None
    if permitted is not None:
        columns = {
            key: [c for c in permitted.tables[key].columns if c in cols] for key, cols in permitted.permitted.items()
        }
    rewrite.apply_row_filters(tables, filters, keys, columns)
