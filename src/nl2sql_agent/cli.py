"""The ``nl2sql`` command line. Settings are built here, at the edge, and passed down.

Expected failures print one line (``error[code]: message``) and exit non-zero; never a traceback.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import uuid
from collections.abc import Callable, Sequence
from typing import Any

from pydantic import ValidationError

from nl2sql_agent.errors import ConfigurationError, Nl2SqlError

EXIT_ERROR = 1
EXIT_USAGE = 2


def _add_agent_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--db", help="SQLAlchemy URL (sqlite:///PATH, postgresql://...); default: the sample database")
    parser.add_argument("--model", help="model spec: local, fake:PATH, openai:MODEL, openai-compatible:MODEL, hf:REPO")
    parser.add_argument("--base-url", help="OpenAI-compatible endpoint for local/openai-compatible models")
    parser.add_argument("--small-model", help="optional cheaper model for intent checks and answers")
    parser.add_argument(
        "--memory", dest="checkpointer_url", help="conversation memory: memory, sqlite:///PATH, postgresql://..."
    )
    parser.add_argument("--today", type=dt.date.fromisoformat, help="fix today's date (YYYY-MM-DD) for relative dates")
    parser.add_argument("--max-rows", type=int, help="row cap for results")


def _settings(args: argparse.Namespace) -> Any:
    from nl2sql_agent.settings import Settings

    fields = {
        "db_url": args.db,
        "model": args.model,
        "base_url": args.base_url,
        "small_model": args.small_model,
        "checkpointer_url": args.checkpointer_url,
        "today": args.today,
        "max_rows": args.max_rows,
    }
    return Settings(**{k: v for k, v in fields.items() if v is not None})


def _print_progress(node: str, elapsed_ms: float, update: dict[str, Any]) -> None:
    detail = ""
    if node == "retrieve_schema" and update.get("tables"):
        detail = " tables: " + ", ".join(update["tables"])
    elif node == "draft_sql" and update.get("attempts", 1) > 1:
        detail = f" (repair attempt {update['attempts'] - 1})"
    elif node == "check_sql" and update.get("sql"):
        detail = " ok"
    print(f"  · {node}{detail} [{elapsed_ms:.0f} ms]", file=sys.stderr, flush=True)


def _render_answer(answer: Any, *, as_json: bool) -> None:
    if as_json:
        print(json.dumps(answer.to_dict(), default=str, ensure_ascii=False))
        return
    print(answer.answer)
    if answer.sql:
        print(f"\nSQL: {answer.sql}")
    if answer.rows and (len(answer.rows) > 1 or len(answer.columns) > 1):
        from nl2sql_agent.grounding import render_rows

        print("\n" + render_rows(answer.columns, answer.rows, limit=10))
        if len(answer.rows) > 10:
            print(f"... {len(answer.rows) - 10} more rows")


def _ask_once(agent: Any, question: str, *, thread_id: str | None, progress: bool) -> Any:
    from nl2sql_agent.answer import Answer

    result = None
    for item in agent.stream(question, thread_id=thread_id):
        if isinstance(item, Answer):
            result = item
        elif progress:
            _print_progress(item.node, item.elapsed_ms, item.update)
    return result


def cmd_ask(args: argparse.Namespace) -> int:
    from nl2sql_agent.agent import Agent

    progress = args.progress if args.progress is not None else (not args.json and sys.stderr.isatty())
    with Agent.from_settings(_settings(args)) as agent:
        try:
            answer = _ask_once(agent, args.question, thread_id=args.thread, progress=progress)
        except Nl2SqlError as exc:
            if args.json:
                partial = exc.answer.to_dict() if exc.answer is not None else {"question": args.question}
                print(json.dumps({**partial, "status": "error", "error": exc.to_dict()}, default=str))
                return EXIT_ERROR
            raise
    _render_answer(answer, as_json=args.json)
    return 0


def cmd_chat(args: argparse.Namespace) -> int:
    from nl2sql_agent.agent import Agent

    thread_id = args.thread or f"chat-{uuid.uuid4().hex[:12]}"
    print(f"nl2sql chat (thread {thread_id}); empty line or Ctrl-D to quit.", file=sys.stderr)
    with Agent.from_settings(_settings(args)) as agent:
        while True:
            try:
                question = input("? ").strip()
            except EOFError:
                break
            if not question:
                break
            try:
                answer = _ask_once(agent, question, thread_id=thread_id, progress=True)
            except Nl2SqlError as exc:
                print(f"error[{exc.code}]: {exc.message}", file=sys.stderr)
                continue
            _render_answer(answer, as_json=False)
            print()
    return 0


def cmd_model(args: argparse.Namespace) -> int:
    from nl2sql_agent.models import local
    from nl2sql_agent.settings import Settings

    settings = Settings()
    port = args.port
    base_url = f"http://127.0.0.1:{port}/v1"

    def say(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    match args.action:
        case "fetch":
            print(local.ensure_weights(settings.data_dir, progress=say))
        case "start":
            info = local.start_server(settings.data_dir, port=port, progress=say)
            print(f"local model up: {info.base_url} (model {info.model})")
        case "stop":
            local.stop_server(settings.data_dir, port=port)
            print("local model stopped")
        case "status":
            status = local.server_status(base_url)
            if status is None:
                print(f"local model down ({base_url})")
                return EXIT_ERROR
            print(json.dumps(status))
    return 0


def cmd_sample_db(args: argparse.Namespace) -> int:
    from nl2sql_agent.sample_db import ensure_sample_sqlite, load_sample_into
    from nl2sql_agent.settings import Settings

    if args.url:
        load_sample_into(args.url)
        print(f"sample database loaded into {args.url.split('@')[-1]}")
    else:
        print(ensure_sample_sqlite(Settings().data_dir / "sample_retail.sqlite"))
    return 0


def cmd_graph(args: argparse.Namespace) -> int:
    from nl2sql_agent.graph import build_graph

    print(build_graph().get_graph().draw_mermaid())
    return 0


def cmd_validate(args: argparse.Namespace) -> int:
    from nl2sql_agent.safety import SqlPolicy, validate_sql

    query = validate_sql(args.sql, dialect=args.dialect, policy=SqlPolicy(max_rows=args.max_rows))
    print(query.sql)
    return 0


def build_parser(extra: Sequence[Callable[[Any], None]] = ()) -> argparse.ArgumentParser:
    """The ``nl2sql`` argument parser; ``extra`` functions add more sub-commands."""
    parser = argparse.ArgumentParser(prog="nl2sql", description="Ask a database questions in plain language.")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("ask", help="answer one question")
    p.add_argument("question")
    _add_agent_options(p)
    p.add_argument("--thread", help="conversation id: follow-ups with the same id share memory")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="show each graph step on stderr (default: when stderr is a terminal)",
    )
    p.set_defaults(func=cmd_ask)

    p = sub.add_parser("chat", help="interactive conversation")
    _add_agent_options(p)
    p.add_argument("--thread", help="continue this conversation")
    p.set_defaults(func=cmd_chat)

    p = sub.add_parser("model", help="the bundled local model (llama.cpp server)")
    p.add_argument("action", choices=["start", "stop", "status", "fetch"])
    p.add_argument("--port", type=int, default=8081)
    p.set_defaults(func=cmd_model)

    p = sub.add_parser("sample-db", help="build the sample database (SQLite), or load it into PostgreSQL with --url")
    p.add_argument("--url", help="postgresql://... to load the sample data into")
    p.set_defaults(func=cmd_sample_db)

    p = sub.add_parser("graph", help="print the agent graph as Mermaid")
    p.set_defaults(func=cmd_graph)

    p = sub.add_parser("validate", help="check one SQL statement with the safety validator")
    p.add_argument("sql")
    p.add_argument("--dialect", default="sqlite", help="sqlglot dialect: sqlite, postgres, ...")
    p.add_argument("--max-rows", type=int, default=1000)
    p.set_defaults(func=cmd_validate)

    for add in extra:
        add(sub)
    return parser


def _extra_commands() -> list[Callable[[Any], None]]:
    """Sub-commands from optional parts (service, evaluation, database admin) when their modules exist."""
    found: list[Callable[[Any], None]] = []
    for module_name in ("nl2sql_agent.cli_extras",):
        try:
            module = __import__(module_name, fromlist=["register"])
        except ImportError:
            continue
        found.extend(module.register_all())
    return found


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``nl2sql`` console script."""
    parser = build_parser(_extra_commands())
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except Nl2SqlError as exc:
        print(f"error[{exc.code}]: {exc.message}", file=sys.stderr)
        return EXIT_ERROR
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        print(f"error[{ConfigurationError.code}]: invalid setting {where}: {first.get('msg')}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
