"""Telling "the database holds no such thing" from "the model wrote a bad query", on the AST.

When the repair loop gives up on a query that kept reading a column or table the schema lacks, and the
question itself asks for that thing in words the schema never uses ("the river's current *speed*",
"our *followers* on Twitter"), the honest answer is that the data is not there, not an error. So it is
when the unknown column only filters on a value the question gives and the data lacks ("the longest
coastline in *Africa*": ``continent = 'Africa'``, with no continent anywhere and no 'Africa' stored).
"""

from __future__ import annotations

from sqlglot import exp

from nl2sql_agent.db.types import SchemaCatalog
from nl2sql_agent.intent import Vocabulary
from nl2sql_agent.lexicon import FUNCTION_WORDS, stems
from nl2sql_agent.sqltext import parse_or_none

_DATE_PARTS = stems("year month week day hour minute second quarter epoch")
"""Names a date function takes as an argument (``DATEDIFF(day, a, b)``, ``DATE_PART(day, x)``): parsed as
columns, they are a draft's dialect slip, never data the database lacks."""


def _unknown_names(tree: exp.Expr, catalog: SchemaCatalog) -> tuple[list[str], list[str]]:
    """The tables and the columns ``tree`` reads that the schema lacks."""
    # Names the query defines itself: CTEs, table aliases and output aliases are not schema names.
    defined = {cte.alias_or_name.lower() for cte in tree.find_all(exp.CTE)}
    defined |= {alias.alias.lower() for alias in tree.find_all(exp.Alias, exp.TableAlias) if alias.alias}
    tables = defined | {t.name.lower() for t in catalog.tables.values()}
    columns = defined | {c.name.lower() for t in catalog.tables.values() for c in t.columns}
    unknown_tables = [t.name for t in tree.find_all(exp.Table) if t.name.lower() not in tables]
    return unknown_tables, [c.name for c in tree.find_all(exp.Column) if c.name.lower() not in columns]


def filtered_values(
    sql: str | None, question: str, *, catalog: SchemaCatalog, vocabulary: Vocabulary, dialect: str
) -> dict[str, str]:
    """``{unknown column: value}`` for filters of ``sql`` on a column the schema lacks, against a value the
    question gives in words the schema does not know (whether the data holds it is for the caller to ask).

    Example: ``WHERE continent = 'Africa'`` for "Which country has the longest coastline in Africa?" on a
    schema without continents gives ``{"continent": "Africa"}``.
    """
    tree = parse_or_none(sql, dialect)
    if tree is None:
        return {}
    unknown = {name.lower() for name in _unknown_names(tree, catalog)[1]}
    asked = question.lower()
    found: dict[str, str] = {}
    for node in tree.find_all(exp.EQ, exp.In):
        values = [node.expression] if isinstance(node, exp.EQ) else node.expressions
        column = node.this
        if not isinstance(column, exp.Column) or column.name.lower() not in unknown:
            continue
        for value in values:
            text = value.this if isinstance(value, exp.Literal) and value.is_string else ""
            if text.strip() and text.lower() in asked and not (stems(text) - FUNCTION_WORDS) & vocabulary.all:
                found.setdefault(column.name, text)
    return found


def missing_concepts(
    sql: str | None,
    question: str,
    *,
    catalog: SchemaCatalog,
    vocabulary: Vocabulary,
    dialect: str,
    hint: str = "",
) -> list[str]:
    """Names ``sql`` reads that the schema lacks, asked for in words (at least one of the name's) that
    neither the schema nor the caller's ``hint`` (a domain hint that defines a term, "SR = sales rank ...")
    knows.

    Example: on a schema with ``river(river_name, length)``, ``SELECT river_name FROM river ORDER BY speed``
    for "Which river has the fastest current speed?" gives ``["speed"]``.
    """
    tree = parse_or_none(sql, dialect)
    if tree is None:
        return []
    unknown_tables, unknown_columns = _unknown_names(tree, catalog)
    unknown = unknown_tables + unknown_columns
    # "id" names keys in nearly every schema (the vocabulary leaves it out as too common to count), so a
    # misspelt key ("sbTxTxCustId" for "the customer id") is a bad draft, never a concept the data lacks.
    asked = stems(question) - FUNCTION_WORDS - {"id"}
    known = vocabulary.all | stems(hint)
    missing: list[str] = []
    for name in dict.fromkeys(unknown):
        if stems(name) <= _DATE_PARTS:
            continue
        from_question = (stems(name) - FUNCTION_WORDS) & asked
        # One asked word of the name that nothing knows is enough: ``journal_impact_factor`` for "the journal
        # impact factor" on a schema that has journals but no impact factor still asks for what it lacks.
        if from_question - known:
            missing.append(name)
    return missing
