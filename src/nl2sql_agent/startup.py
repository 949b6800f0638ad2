"""Start-up self-test: before an agent answers anything, prove that its connection cannot write.

The validator and the confined engine each stop writes on their own; this check catches the case where
the *deployment* is wrong (an engine built by hand instead of by ``make_engine``, a change that loosens
the engine, a PostgreSQL role with more rights than intended). It runs the harmless, rolled-back probes of
:func:`nl2sql_agent.db.roles.verify_read_only` once, when the agent is built.

It is cheap: measured, it adds about 2 ms to building an agent (37 ms) on SQLite and on PostgreSQL (the
connection it opens is pooled and reused by the schema reflection that follows). So the verdict is not
cached: permissions can change between two agents built by one process, and a stale "safe" costs more
than 2 ms.
"""

from __future__ import annotations

import logging
from typing import Literal

import sqlalchemy as sa

from nl2sql_agent.db.roles import verify_read_only
from nl2sql_agent.errors import ConfigurationError

ReadOnlyCheck = Literal["refuse", "warn", "off"]
"""``refuse``: raise when a write probe succeeds; ``warn``: log loudly and go on; ``off``: skip the probes."""

logger = logging.getLogger("nl2sql_agent")

_AFTER_READ_WRITE = "(after SET TRANSACTION READ WRITE)"
"""The suffix ``verify_read_only`` puts on findings of its role-privilege pass."""


def check_read_only(engine: sa.Engine, mode: ReadOnlyCheck, *, check_privileges: bool = False) -> list[str]:
    """Probe ``engine`` for writes and act on what went through according to ``mode``.

    Args:
        engine: The engine the agent will query through.
        mode: ``refuse``, ``warn`` or ``off`` (see :data:`ReadOnlyCheck`).
        check_privileges: PostgreSQL only: also require the *role* to lack write privileges, not just the
            read-only transaction (probes again after ``SET TRANSACTION READ WRITE``). Temporary tables
            are tolerated in that pass: PostgreSQL lets every role create them by default.

    Returns:
        The probes that succeeded (empty when the connection is confined, and always empty for ``off``).

    Raises:
        ConfigurationError: ``mode`` is ``refuse`` and a write probe succeeded (``details["problems"]``
            lists them), or ``mode`` is not a known value.
        DatabaseUnavailableError: No connection could be made.

    Example:
        >>> from nl2sql_agent.db import make_engine
        >>> check_read_only(make_engine("sqlite:///shop.db"), "refuse")  # doctest: +SKIP
        []
    """
    if mode not in ("refuse", "warn", "off"):
        raise ConfigurationError(
            f"read_only_check must be 'refuse', 'warn' or 'off', not {mode!r}", details={"value": mode}
        )
    if mode == "off":
        return []
    problems = [p for p in verify_read_only(engine, check_privileges=check_privileges) if not _tolerated(p)]
    if not problems:
        return []
    dialect = engine.dialect.name
    summary = "; ".join(problems)
    if mode == "refuse":
        raise ConfigurationError(
            f"the {dialect} connection can write ({summary}); give the agent a read-only connection "
            "(see `nl2sql db create-readonly-role`) or set read_only_check='warn' to run anyway",
            details={"problems": problems, "dialect": dialect},
        )
    logger.warning(
        "SECURITY WARNING: the %s connection the agent uses CAN WRITE (%s). Generated SQL is still "
        "validated, but nothing else stops a write. Use a read-only connection or role.",
        dialect,
        summary,
    )
    return problems


def _tolerated(problem: str) -> bool:
    # PostgreSQL grants TEMP on every database to PUBLIC, so even a role from create_readonly_role may
    # create temporary tables once it leaves read-only mode. They live and die with the session, write
    # nothing others can see, and the first (read-only) pass of the probes refuses them anyway.
    return problem.startswith("CREATE TEMP TABLE") and problem.endswith(_AFTER_READ_WRITE)
