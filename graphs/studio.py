"""The module LangGraph's tooling points at (``langgraph.json``): the one module-level graph of the project.

Runs need the run context (models, database, policy): ``graph.invoke(inputs, context=agent.context())``
with an :class:`nl2sql_agent.Agent`. ``agent.mmd`` beside this file is the rendered graph, kept current
by ``tests/test_graph_render.py`` (regenerate with ``nl2sql graph > graphs/agent.mmd``).
"""

from nl2sql_agent.graph import build_graph

graph = build_graph()
