"""The HTTP service: ``create_app(settings)`` builds a FastAPI app around an :class:`~nl2sql_agent.Agent`."""

from __future__ import annotations

from nl2sql_agent.api.app import app_from_env, create_app, serve
from nl2sql_agent.api.settings import ServiceSettings

__all__ = ("ServiceSettings", "app_from_env", "create_app", "serve")
