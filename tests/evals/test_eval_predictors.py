"""The two predictor adapters, driven by the scripted FakeChatModel on a real SQLite file."""

from __future__ import annotations

from pathlib import Path

import pytest

from nl2sql_agent.evals.agent_predictor import AgentPredictor, eval_settings_factory
from nl2sql_agent.evals.items import BenchItem, EvalTurn
from nl2sql_agent.evals.scoring import score_item
from nl2sql_agent.models.fake import FakeChatModel, FakeRule

NORWAY_SQL = "SELECT COUNT(*) FROM city WHERE country = 'NO'"
FRANCE_SQL = "SELECT COUNT(*) FROM city WHERE country = 'FR'"


def bench_item(db: Path, question: str, gold: str | None = None, **kwargs: object) -> BenchItem:
    return BenchItem(
        id=f"t:{question[:12]}", source="t", db_id="tiny", db_path=str(db), question=question, gold_sql=gold, **kwargs
    )  # type: ignore[arg-type]


@pytest.fixture()
def agent_model() -> FakeChatModel:
    return FakeChatModel(
        rules=[
            FakeRule(role="sql", when="france", reply=FRANCE_SQL),
            FakeRule(role="sql", when="norway", reply=NORWAY_SQL),
            FakeRule(role="sql", when="broken", reply="SELECT nope FROM city"),
        ]
    )


@pytest.fixture()
def agent_predictor(agent_model: FakeChatModel, tmp_path: Path) -> AgentPredictor:
    predictor = AgentPredictor(eval_settings_factory(data_dir=tmp_path), model=agent_model)
    yield predictor  # type: ignore[misc]
    predictor.close()


def test_agent_answers_and_reports_usage(tiny_db: Path, agent_predictor: AgentPredictor) -> None:
    item = bench_item(tiny_db, "How many cities are in Norway?", "SELECT 2")
    prediction = agent_predictor.predict(item)
    assert prediction.status == "answered" and prediction.sql is not None
    assert score_item(item, prediction).correct
    assert prediction.usage.llm_calls >= 1 and prediction.usage.input_tokens > 0
    assert agent_predictor.name == "nl2sql-agent/fake"  # the injected model names itself


def test_agent_passes_evidence_only_when_asked(tiny_db: Path, agent_model: FakeChatModel, tmp_path: Path) -> None:
    item = bench_item(tiny_db, "How many cities are in Norway?", "SELECT 2", evidence="NO is the code of Norway")
    with_hint = AgentPredictor(eval_settings_factory(data_dir=tmp_path), model=agent_model)
    with_hint.predict(item)
    with_hint.close()
    assert any("NO is the code of Norway" in text for call in agent_model.calls for text in call["messages"])
    silent_model = FakeChatModel(rules=[FakeRule(role="sql", reply=NORWAY_SQL)])
    without = AgentPredictor(eval_settings_factory(data_dir=tmp_path), model=silent_model, use_evidence=False)
    without.predict(item)
    without.close()
    assert not any("NO is the code" in text for call in silent_model.calls for text in call["messages"])


def test_agent_multi_turn_runs_in_one_thread(
    tiny_db: Path, agent_model: FakeChatModel, agent_predictor: AgentPredictor
) -> None:
    item = bench_item(
        tiny_db,
        "",
        turns=(
            EvalTurn("How many cities are in Norway?", "SELECT 2"),
            EvalTurn("And what about France?", "SELECT 2"),
            EvalTurn("Delete all cities", None, must_refuse=True),
        ),
    )
    prediction = agent_predictor.predict(item)
    assert [t.status for t in prediction.turns] == ["answered", "answered", "refused"]
    assert score_item(item, prediction).correct
    second_sql_prompt = [c for c in agent_model.calls if c["role"] == "sql"][1]
    assert any("How many cities are in Norway?" in text for text in second_sql_prompt["messages"])


def test_agent_refusals_and_errors(tiny_db: Path, agent_predictor: AgentPredictor) -> None:
    refused = agent_predictor.predict(bench_item(tiny_db, "Tell me a joke", must_refuse=True))
    assert refused.status == "refused" and refused.sql is None
    failed = agent_predictor.predict(bench_item(tiny_db, "Which city has the broken column?", "SELECT 1"))
    assert failed.status == "error" and failed.error_code == "sql_validation"
    assert failed.usage.llm_calls >= 1  # the calls spent before giving up still count


def test_agent_unreachable_database(tmp_path: Path, agent_model: FakeChatModel) -> None:
    predictor = AgentPredictor(eval_settings_factory(data_dir=tmp_path), model=agent_model)
    prediction = predictor.predict(
        bench_item(tmp_path / "missing.sqlite", "How many cities are in Norway?", "SELECT 2")
    )
    predictor.close()
    assert prediction.status == "error" and prediction.error_code is not None


def test_baseline_chain_adapter(tiny_db: Path) -> None:
    pytest.importorskip("langchain_classic")
    from nl2sql_agent.evals.baseline import MODEL_ERROR, SqlQueryChainPredictor

    model = FakeChatModel(
        replies=[
            f"Question: How many?\nSQLQuery: {NORWAY_SQL}\nSQLResult: 2",
            "I am sorry, I cannot answer that.",
            "```sql\nDELETE FROM city\n```",
        ]
    )
    predictor = SqlQueryChainPredictor(llm_factory=lambda: model, k=777)
    item = bench_item(tiny_db, "How many cities are in Norway?", "SELECT 2", evidence="NO means Norway")
    answered = predictor.predict(item)
    assert answered.status == "answered" and answered.sql == NORWAY_SQL
    assert score_item(item, answered).correct
    assert answered.usage.llm_calls == 1 and answered.usage.input_tokens > 0 and answered.usage.output_tokens > 0
    prompt = "\n".join(model.calls[0]["messages"])
    assert "CREATE TABLE city" in prompt and "777" in prompt and "Hint: NO means Norway" in prompt
    refused = predictor.predict(bench_item(tiny_db, "Tell me a joke", must_refuse=True))
    assert refused.status == "refused" and score_item(bench_item(tiny_db, "x", must_refuse=True), refused).correct
    unsafe = predictor.predict(item)
    assert unsafe.sql == "DELETE FROM city" and score_item(item, unsafe).turns[0].unsafe_sql
    broken = SqlQueryChainPredictor(llm_factory=lambda: FakeChatModel(replies=[ConnectionError("down")]))
    failed = broken.predict(item)
    assert failed.status == "error" and failed.error_code == MODEL_ERROR and "down" in (failed.error_message or "")
