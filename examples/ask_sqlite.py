"""Script twin of quickstart.ipynb: ask the sample database a question with the local model.

Run ``nl2sql model start`` first (or pass ``--model openai:gpt-4o-mini`` with OPENAI_API_KEY set).
"""

from __future__ import annotations

import sys

from nl2sql_agent import Agent, Settings


def main() -> None:
    question = " ".join(sys.argv[1:]) or "Top 5 products by revenue in 2024"
    with Agent.from_settings(Settings(model="local")) as agent:
        answer = agent.ask(question, thread_id="example")
        print(answer.answer)  # noqa: T201
        print(answer.sql)  # noqa: T201


if __name__ == "__main__":
    main()
