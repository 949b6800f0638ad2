"""The public surface is small, explicit and matches ``__all__``."""

from __future__ import annotations

import inspect

import nl2sql_agent


def test_all_lists_exactly_the_public_names() -> None:
    public = {name for name in dir(nl2sql_agent) if not name.startswith("_")}
    modules = {name for name in public if inspect.ismodule(getattr(nl2sql_agent, name))}
    assert set(nl2sql_agent.__all__) - {"__version__"} == public - modules


def test_errors_share_one_root_with_stable_codes() -> None:
    errors = [getattr(nl2sql_agent, n) for n in nl2sql_agent.__all__ if n.endswith("Error")]
    assert all(issubclass(e, nl2sql_agent.Nl2SqlError) for e in errors)
    assert all(e.code in set(nl2sql_agent.ErrorCode) for e in errors)


def test_version_comes_from_package_metadata() -> None:
    from importlib.metadata import version

    assert nl2sql_agent.__version__ == version("nl2sql-agent")
