"""The chat page in a real headless Chromium: key entry, streamed answer, SQL, table, chart and errors.

The test keeps a full-page screenshot: in its pytest tmp dir and as ``artifacts/chat_page.png`` at the
repository root (git-ignored), so a person can look at what the browser showed.
"""

from __future__ import annotations

import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from api_helpers import fake_model

from nl2sql_agent.models.fake import FakeRule

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"
MONTHLY_SQL = (
    "SELECT strftime('%Y-%m', sale_date) AS month, ROUND(SUM(total_amount), 2) AS revenue FROM sales "
    "WHERE sale_date >= '2024-01-01' AND sale_date < '2025-01-01' GROUP BY month ORDER BY month"
)


@pytest.fixture
def live_server(sample_db_url: str, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """A real HTTP server (uvicorn in a thread) with the fake model; yields its URL and an API key."""
    pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        pytest.skip("chromium is not installed")
    import uvicorn

    from nl2sql_agent.agent import Agent
    from nl2sql_agent.api import ServiceSettings, create_app
    from nl2sql_agent.auth import create_api_key
    from nl2sql_agent.settings import Settings

    settings = Settings(model="fake", db_url=sample_db_url, checkpointer_url="memory", data_dir=tmp_path)
    model = fake_model(rules=[FakeRule(MONTHLY_SQL, when="revenue per month", role="sql")])
    agent = Agent.from_settings(settings, model=model)
    app = create_app(settings, agent=agent, service_settings=ServiceSettings(keys_url="memory"))
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}", create_api_key(app.state.services.authenticator.keys, "alice")
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        agent.close()


def test_chat_page_asks_answers_and_follows_up_in_one_thread(live_server: tuple[str, str], tmp_path: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    url, key = live_server
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        try:
            page: Any = browser.new_page(viewport={"width": 1100, "height": 900})
            page.goto(url + "/")
            page.fill("#key", "nl2sql_wrong")
            page.fill("#question", "How many customers are there?")
            page.click("#send")
            error = page.locator(".msg.error").last
            expect(error).to_contain_text("unauthorized")

            # Ask: the streamed steps, then the answer with its SQL and its table.
            page.fill("#key", key)
            page.fill("#question", "How many customers are there?")
            page.press("#question", "Enter")
            answer = page.locator(".msg.answer").last
            expect(answer.locator("td")).to_have_text("3000")
            expect(answer.locator("pre.sql")).to_contain_text("customers")
            assert answer.locator(".steps span").count() >= 6  # one per streamed graph step

            # Follow up in the same conversation: a series, so a chart as well as the table.
            page.fill("#question", "And the revenue per month in 2024?")
            page.click("#send")
            series = page.locator(".msg.answer").nth(1)
            expect(series.locator("svg.chart")).to_be_visible()
            expect(series.locator("pre.sql")).to_contain_text("sale_date")
            assert series.locator("tbody tr").count() == 12

            # Both questions went to one thread, the one the page shows.
            thread_id = page.evaluate("threadId")
            expect(page.locator("#thread")).to_contain_text(thread_id[:8])
            history = httpx.get(f"{url}/v1/threads/{thread_id}", headers={"Authorization": f"Bearer {key}"})
            assert history.status_code == 200, history.text
            assert [t["question"] for t in history.json()["turns"]] == [
                "How many customers are there?",
                "And the revenue per month in 2024?",
            ]

            shot = tmp_path / "chat_page.png"
            page.screenshot(path=str(shot), full_page=True)
            ARTIFACTS.mkdir(exist_ok=True)
            shutil.copyfile(shot, ARTIFACTS / "chat_page.png")
            assert shot.stat().st_size > 10_000

            page.reload()
            assert page.input_value("#key") == key  # kept in localStorage
        finally:
            browser.close()
