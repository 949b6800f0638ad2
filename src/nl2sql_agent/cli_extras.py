"""Sub-commands of ``nl2sql`` for the optional parts: the service, API keys, evaluations, database roles."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from typing import Any

Register = Callable[[Any], None]


def _serve(args: argparse.Namespace) -> int:
    from nl2sql_agent.api import serve
    from nl2sql_agent.cli import _settings

    # Each worker gets its own listening socket on the port (see nl2sql_agent.api.server).
    return serve(_settings(args), host=args.host, port=args.port, workers=args.workers)


def _add_serve(sub: Any) -> None:
    from nl2sql_agent.cli import _add_agent_options

    p = sub.add_parser("serve", help="run the HTTP API and chat page (uvicorn)")
    _add_agent_options(p)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--workers", type=int, default=1, help="uvicorn worker processes (state is shared via PG/Redis)")
    p.set_defaults(func=_serve)


def _keys(args: argparse.Namespace) -> int:
    from nl2sql_agent.api.settings import ServiceSettings
    from nl2sql_agent.auth import issue_api_key, revoke_api_key

    keys_url = args.keys_url or ServiceSettings().keys_url
    if args.action == "create":
        policy = json.loads(args.policy) if args.policy else None
        key = issue_api_key(keys_url, args.principal, policy=policy, daily_budget_usd=args.daily_budget)
        print(key)
        print("store this key now: it is kept only as a hash and cannot be shown again", file=sys.stderr)
    else:
        print(f"revoked {revoke_api_key(keys_url, args.prefix)} key(s)")
    return 0


def _add_keys(sub: Any) -> None:
    p = sub.add_parser("keys", help="create or revoke API keys for the service")
    actions = p.add_subparsers(dest="action", required=True)
    create = actions.add_parser("create", help="create a key for a principal (printed once)")
    create.add_argument("principal", help="principal id, e.g. analyst-1")
    create.add_argument("--policy", help='JSON data policy, e.g. {"hidden_columns": ["customers.email"]}')
    create.add_argument("--daily-budget", type=float, help="USD per day")
    revoke = actions.add_parser("revoke", help="revoke keys by their listed prefix")
    revoke.add_argument("prefix")
    for action in (create, revoke):
        action.add_argument("--keys-url", help="postgresql://... or file:PATH (default NL2SQL_KEYS_URL)")
    p.set_defaults(func=_keys)


def _add_eval(sub: Any) -> None:
    from nl2sql_agent.evals.cli import add_eval_arguments, run_from_args

    p = sub.add_parser("eval", help="measure execution accuracy on benchmark files")
    add_eval_arguments(p)
    p.set_defaults(func=run_from_args)


def _db(args: argparse.Namespace) -> int:
    from nl2sql_agent.db.roles import create_readonly_role, verify_read_only

    if args.action == "create-readonly-role":
        create_readonly_role(
            args.url,
            args.role,
            schemas=args.schema or ("public",),
            tables=args.table or None,
            hidden_columns=args.hide or (),
            login=args.password is not None,
            password=args.password,
        )
        print(f"role {args.role} can now only read what it was granted")
        return 0
    from nl2sql_agent.db.engine import make_engine

    engine = make_engine(args.url)
    try:
        problems = verify_read_only(engine, check_privileges=True)
    finally:
        engine.dispose()
    if problems:
        print("NOT read-only: " + "; ".join(problems), file=sys.stderr)
        return 1
    print("read-only: every write attempt was refused")
    return 0


def _add_db(sub: Any) -> None:
    p = sub.add_parser("db", help="database administration for a safe deployment")
    actions = p.add_subparsers(dest="action", required=True)
    role = actions.add_parser("create-readonly-role", help="PostgreSQL role with SELECT on chosen tables/columns")
    role.add_argument("--url", required=True, help="an administrator's postgresql:// URL")
    role.add_argument("--role", required=True)
    role.add_argument("--schema", action="append", help="schema to grant (repeatable; default public)")
    role.add_argument("--table", action="append", help="only these tables (repeatable; default all)")
    role.add_argument("--hide", action="append", help="table.column the role may not read (repeatable)")
    role.add_argument("--password", help="make it a login role with this password")
    check = actions.add_parser("verify-readonly", help="try harmless writes (rolled back) and report any that work")
    check.add_argument("--url", required=True)
    p.set_defaults(func=_db)


def register_all() -> list[Register]:
    """The sub-command builders whose modules are installed (the api extra brings the service)."""
    found: list[Register] = [_add_eval, _add_db]
    try:
        import fastapi  # noqa: F401
    except ImportError:
        return found
    return [_add_serve, _add_keys, *found]
