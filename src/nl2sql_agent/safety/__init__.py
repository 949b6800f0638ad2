"""The SQL safety gate: one read-only query in, a rewritten safe query (or a precise refusal) out.

The database's least-privilege role and read-only connection are the real boundary; this validator is
the second line of defence and the source of repair hints for the model.
"""

from __future__ import annotations

from nl2sql_agent.safety.policy import SqlPolicy, ValidatedQuery
from nl2sql_agent.safety.validator import validate_sql

__all__ = ("SqlPolicy", "ValidatedQuery", "validate_sql")
