"""Agent overhead per question: everything except model and database time, with the fake model on the sample DB.

    python benchmarks/overhead.py [--questions 300]

Prints p50/p99 overhead in ms (target: p50 <= 5 ms) and peak memory. Model time is measured around
every chat-model call (callbacks); database time around the executor.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import tempfile
import time
import tracemalloc
from pathlib import Path

from langchain_core.callbacks import BaseCallbackHandler

from nl2sql_agent import Agent, Settings
from nl2sql_agent.db.executor import ReadOnlyExecutor
from nl2sql_agent.models.fake import FakeChatModel, FakeRule
from nl2sql_agent.sample_db import ensure_sample_sqlite

QUESTIONS = [
    ("How many customers do we have?", "SELECT COUNT(*) FROM customers"),
    (
        "Top 5 products by revenue in 2024",
        "SELECT product_name, SUM(total_amount) AS revenue FROM sales WHERE strftime('%Y', sale_date) = '2024' "
        "GROUP BY product_name ORDER BY revenue DESC LIMIT 5",
    ),
    (
        "Revenue by region in 2025",
        "SELECT r.region_name, SUM(s.total_amount) FROM sales s JOIN stores st ON s.store_id = st.store_id "
        "JOIN regions r ON st.region_id = r.region_id WHERE s.sale_date >= '2025-01-01' GROUP BY r.region_name",
    ),
    (
        "Average sale amount per month in 2024",
        "SELECT strftime('%Y-%m', sale_date) AS month, AVG(total_amount) FROM sales "
        "WHERE sale_date BETWEEN '2024-01-01' AND '2024-12-31' GROUP BY month ORDER BY month",
    ),
]


class Timer(BaseCallbackHandler):
    """Model time, from the callbacks around each chat-model call."""

    def __init__(self) -> None:
        self.started: dict[object, float] = {}
        self.ms = 0.0

    def on_chat_model_start(self, serialized, messages, *, run_id, **kwargs):  # type: ignore[no-untyped-def]
        self.started[run_id] = time.perf_counter()

    def on_llm_end(self, response, *, run_id, **kwargs):  # type: ignore[no-untyped-def]
        self.ms += (time.perf_counter() - self.started.pop(run_id)) * 1000


class TimedExecutor(ReadOnlyExecutor):
    """Database time, around the driver call."""

    db_ms = 0.0

    def run(self, sql, *, max_rows, timeout_s=None):  # type: ignore[no-untyped-def]
        started = time.perf_counter()
        try:
            return super().run(sql, max_rows=max_rows, timeout_s=timeout_s)
        finally:
            TimedExecutor.db_ms += (time.perf_counter() - started) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--questions", type=int, default=300)
    args = parser.parse_args()

    data = Path(tempfile.mkdtemp())
    db = ensure_sample_sqlite(data / "sample.sqlite")
    timer = Timer()
    model = FakeChatModel(
        rules=[FakeRule(sql, role="sql", when=q) for q, sql in QUESTIONS]
        + [FakeRule("Here is the result.", role="answer")],
        callbacks=[timer],
    )
    settings = Settings(db_url=f"sqlite:///{db}", checkpointer_url="memory", data_dir=data)
    agent = Agent.from_settings(settings, model=model)
    agent.executor.__class__ = TimedExecutor

    for question, _ in QUESTIONS:  # warm-up: imports, caches, sqlglot schema objects
        agent.ask(question)

    overheads, cpu_times = [], []
    for i in range(args.questions):
        question = QUESTIONS[i % len(QUESTIONS)][0]
        model_before, db_before = timer.ms, TimedExecutor.db_ms
        started, cpu_started = time.perf_counter(), time.process_time()
        answer = agent.ask(question, thread_id=f"bench-{i % 20}")
        total = (time.perf_counter() - started) * 1000
        cpu_times.append((time.process_time() - cpu_started) * 1000)
        assert answer.status == "answered", answer
        overheads.append(total - (timer.ms - model_before) - (TimedExecutor.db_ms - db_before))
    # Memory is measured in a second pass: tracemalloc slows Python down several times.
    tracemalloc.start()
    for i in range(min(args.questions, 50)):
        agent.ask(QUESTIONS[i % len(QUESTIONS)][0], thread_id=f"mem-{i % 20}")
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    agent.close()

    overheads.sort()
    p50 = statistics.median(overheads)
    p99 = overheads[min(len(overheads) - 1, int(len(overheads) * 0.99))]
    print(f"questions: {args.questions} (with in-memory conversation memory, 20 threads)")
    print(f"overhead per question: p50 {p50:.2f} ms, p99 {p99:.2f} ms, mean {statistics.fmean(overheads):.2f} ms")
    # On a busy machine wall time includes waiting for a core; CPU time is this process's own work (model
    # and database included, so it bounds the overhead from above).
    cpu_times.sort()
    cpu_p50 = statistics.median(cpu_times)
    print(f"CPU time per question (all of it, fake model and SQLite included): p50 {cpu_p50:.2f} ms")
    print(f"peak traced Python memory during the run: {peak / 2**20:.1f} MiB")
    print(f"process max RSS: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")
    print(f"target p50 <= 5 ms: {'met' if p50 <= 5 else 'NOT met'}")


if __name__ == "__main__":
    main()
