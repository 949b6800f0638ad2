"""The committed Mermaid drawing of the graph matches the graph the code builds."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from nl2sql_agent import build_graph

GRAPHS = Path(__file__).resolve().parents[1] / "graphs"


def test_rendered_graph_is_current() -> None:
    assert (GRAPHS / "agent.mmd").read_text() == build_graph().get_graph().draw_mermaid() + "\n"


def test_studio_module_exposes_the_graph() -> None:
    spec = importlib.util.spec_from_file_location("studio", GRAPHS / "studio.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    nodes = set(module.graph.get_graph().nodes)
    assert {"detect_intent", "retrieve_schema", "draft_sql", "check_sql", "execute_sql", "summarize_answer"} <= nodes
