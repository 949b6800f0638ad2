"""Tidying a draft's grouping before it is checked: a GROUP BY the question never asked for.

``SELECT COUNT(s.id), SUM(s.sale_price) FROM sales AS s ... GROUP BY s.car_id`` for "How many Toyota cars
were sold in the last 30 days? Return the number of sales and total revenue" answers with one unlabelled
row per car instead of one total. When every selected expression is an aggregate, none of the grouping
keys is selected, nothing orders or filters the groups, and the question asks for no breakdown ("each",
"per", "by" ...), the GROUP BY is dropped: the totals are what was asked.
"""

from __future__ import annotations

from sqlglot import exp

from nl2sql_agent.lexicon import stems
from nl2sql_agent.sqltext import is_aggregate, rewritten

_BREAKDOWN_WORDS = frozenset(
    "each per every by group grouped breakdown split respective respectively individual individually "
    "various different distribution vary".split()
)
"""Words that ask for one row per group ("for each airline", "by month", "how does it vary")."""


CUES = ("group",)
"""What a draft mentions when it groups."""


def tidy_grouping(sql: str, *, dialect: str, question: str) -> str | None:
    """``sql`` without a GROUP BY whose groups the question never asked for; ``None`` if unchanged.

    Example:
        ``SELECT AVG(w.balance) FROM wallet AS w GROUP BY w.user_id`` for "What is the average balance?"
        becomes ``SELECT AVG(w.balance) FROM wallet AS w``.
    """
    return rewritten(sql, dialect, CUES, lambda tree: tidy(tree, question=question))


def tidy(tree: exp.Expr, *, question: str) -> bool:
    """:func:`tidy_grouping` on a parsed draft, in place; whether anything changed."""
    if stems(question) & _BREAKDOWN_WORDS or not isinstance(tree, exp.Select) or not _ungrouped_totals(tree):
        return False
    tree.set("group", None)
    return True


def _ungrouped_totals(select: exp.Select) -> bool:
    """Only aggregates selected, no grouping key among them, and no HAVING, ORDER BY or window over groups."""
    group = select.args.get("group")
    if group is None or select.args.get("having") or select.args.get("order"):
        return False
    projections = select.expressions
    if not projections or not all(is_aggregate(e) for e in projections):
        return False
    keys = {key.sql().lower() for key in group.expressions}
    names = {key.name.lower() for key in group.expressions if isinstance(key, exp.Column)}
    for projection in projections:
        for node in projection.walk():
            if isinstance(node, exp.AggFunc) or node.find_ancestor(exp.AggFunc) is not None:
                continue  # COUNT(s.id) ... GROUP BY s.id still counts per id: the key read inside is no label
            if node.sql().lower() in keys or (isinstance(node, exp.Column) and node.name.lower() in names):
                return False
    return True
