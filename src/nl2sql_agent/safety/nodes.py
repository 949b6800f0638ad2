"""The syntax-node allowlist: the only sqlglot node classes a read query may contain.

Matching is on the exact class, never ``isinstance``: a new subclass sqlglot adds later (a new statement
or function node) is refused until it is reviewed and listed here or in functions.py.
"""

from __future__ import annotations

from sqlglot import exp

ROOT_CLASSES: tuple[type[exp.Expression], ...] = (exp.Select, exp.Union, exp.Intersect, exp.Except)
"""Statements that may be sent: a query, or a set operation of queries."""

ALLOWED_NODE_CLASSES: frozenset[type[exp.Expression]] = frozenset(
    {
        # query structure
        exp.Select, exp.Union, exp.Intersect, exp.Except, exp.With, exp.CTE, exp.Subquery,
        exp.From, exp.Join, exp.Where, exp.Group, exp.Having, exp.Order, exp.Ordered, exp.Limit,
        exp.Offset, exp.Fetch, exp.LimitOptions, exp.Distinct, exp.Window, exp.WindowSpec,
        exp.Lateral, exp.Unnest, exp.Values, exp.Tuple, exp.Table, exp.TableAlias, exp.Alias,
        exp.Rollup, exp.Cube, exp.GroupingSets, exp.Filter, exp.WithinGroup, exp.IgnoreNulls,
        exp.RespectNulls,
        # names and values
        exp.Column, exp.Identifier, exp.Star, exp.Literal, exp.Boolean, exp.Null, exp.Var,
        exp.RawString, exp.National, exp.UnicodeString, exp.HexString, exp.ByteString, exp.BitString,
        exp.DataType, exp.DataTypeParam, exp.Interval, exp.IntervalSpan, exp.Array, exp.Bracket,
        exp.Paren, exp.Kwarg, exp.JSONPath, exp.JSONPathKey, exp.JSONPathRoot, exp.JSONPathSubscript,
        exp.JSONPathWildcard, exp.JSONKeyValue,
        # operators and predicates
        exp.Add, exp.Sub, exp.Mul, exp.Div, exp.Mod, exp.Neg, exp.Not, exp.And, exp.Or, exp.Xor,
        exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE, exp.NullSafeEQ, exp.NullSafeNEQ, exp.Is,
        exp.In, exp.Between, exp.Like, exp.ILike, exp.SimilarTo, exp.Glob, exp.Escape, exp.DPipe,
        exp.BitwiseAnd, exp.BitwiseOr, exp.BitwiseXor, exp.BitwiseNot, exp.BitwiseLeftShift,
        exp.BitwiseRightShift, exp.Exists, exp.Any, exp.All, exp.Case, exp.If, exp.Collate,
        exp.Overlaps,
    }
)  # fmt: skip
"""Non-function node classes allowed anywhere in a query."""

REFUSAL_MESSAGES: dict[type[exp.Expression], str] = {
    exp.Insert: "INSERT is not allowed; only read-only SELECT queries can run",
    exp.Update: "UPDATE is not allowed; only read-only SELECT queries can run",
    exp.Delete: "DELETE is not allowed; only read-only SELECT queries can run",
    exp.Merge: "MERGE is not allowed; only read-only SELECT queries can run",
    exp.TruncateTable: "TRUNCATE is not allowed; only read-only SELECT queries can run",
    exp.Create: "CREATE is not allowed; only read-only SELECT queries can run",
    exp.Drop: "DROP is not allowed; only read-only SELECT queries can run",
    exp.Alter: "ALTER is not allowed; only read-only SELECT queries can run",
    exp.Copy: "COPY is not allowed; only read-only SELECT queries can run",
    exp.Set: "SET is not allowed; session settings cannot be changed",
    exp.Pragma: "PRAGMA is not allowed; database settings cannot be read or changed",
    exp.Attach: "ATTACH is not allowed; only this database can be read",
    exp.Detach: "DETACH is not allowed",
    exp.Use: "USE is not allowed",
    exp.Transaction: "transaction control is not allowed",
    exp.Commit: "COMMIT is not allowed",
    exp.Rollback: "ROLLBACK is not allowed",
    exp.Analyze: "ANALYZE is not allowed",
    exp.Into: "SELECT ... INTO creates a table and is not allowed",
    exp.Lock: "FOR UPDATE/SHARE locks are not allowed in read-only queries",
    exp.Returning: "RETURNING belongs to data-modifying statements, which are not allowed",
    exp.Dot: "schema-qualified function calls and field access are not allowed",
    exp.Placeholder: "query parameters (placeholders) are not allowed; inline the values",
    exp.Parameter: "query parameters are not allowed; inline the values",
    exp.SessionParameter: "session parameters are not allowed",
    exp.ObjectIdentifier: "object identifier casts (regclass, regnamespace, ...) are not allowed",
    exp.TableSample: "TABLESAMPLE is not allowed",
}
"""Specific, short messages for refused node classes a model is likely to produce."""


def refusal_message(node: exp.Expression) -> str:
    """Why ``node`` (whose class is not allowed) is refused."""
    if isinstance(node, exp.Command):
        word = str(node.this).upper() or "this"
        return f"{word} statements are not allowed; only read-only SELECT queries can run"
    for cls in type(node).__mro__:
        message = REFUSAL_MESSAGES.get(cls)
        if message:
            return message
    return f"{type(node).__name__} syntax is not allowed in a read-only query"


def root_refusal_message(root: exp.Expression) -> str:
    """Why a statement that is not a query is refused."""
    if isinstance(root, exp.Command) or type(root) in REFUSAL_MESSAGES:
        return refusal_message(root)
    return "only read-only SELECT queries can run; this statement is something else"
