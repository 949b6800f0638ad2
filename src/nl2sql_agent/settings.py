"""Settings: one pydantic-settings class, read from ``NL2SQL_*`` variables, built at the edges (CLI, API).

The library never builds a ``Settings()`` at import; callers pass one down.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Literal

import platformdirs
from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from nl2sql_agent.errors import ConfigurationError

LOCAL_MODEL_NAME = "qwen2.5-coder-1.5b"
"""The alias the bundled local model is served under."""
DEFAULT_LOCAL_PORT = 8081


def default_data_dir() -> Path:
    """Where the sample database, conversation memory and local model weights live by default."""
    return Path(platformdirs.user_data_dir("nl2sql-agent", appauthor=False))


class Settings(BaseSettings):
    """Everything the agent can be configured with. Every field reads ``NL2SQL_<FIELD>`` too."""

    model_config = SettingsConfigDict(env_prefix="NL2SQL_", extra="ignore", frozen=True)

    db_url: str | None = None
    """SQLAlchemy URL of the database to question; ``None`` means the bundled sample database."""
    model: str = "local"
    """Model spec: ``local``, ``fake:PATH``, ``openai:gpt-4o-mini``, ``openai-compatible:NAME``, ``hf:REPO``."""
    base_url: str | None = None
    """OpenAI-compatible endpoint for ``local`` / ``openai-compatible`` specs."""
    api_key: SecretStr | None = None
    """Key for the model endpoint; falls back to the provider's own variable (``OPENAI_API_KEY``)."""
    small_model: str | None = None
    """Optional cheaper model for intent checks and summaries; defaults to ``model``."""
    data_dir: Path = Field(default_factory=default_data_dir)
    checkpointer_url: str | None = None
    """``memory``, ``sqlite:///PATH`` or ``postgresql://...``; ``None``: a SQLite file in ``data_dir``."""
    today: dt.date | None = None
    """Fixes "today" for relative dates, for reproducible evaluations; ``None`` uses the clock."""
    max_repairs: int = Field(default=1, ge=0, le=10)
    """How many times a failing draft goes back to the model before the run gives up.

    One by default: with the 1.5B local model a second repair turned none of 54 failing drafts into a
    right answer on the evaluation subsets (while a first repair saved about one in four), and each
    costs a full prompt. Raise it for larger models."""
    max_rows: int = Field(default=1000, ge=1, le=1_000_000)
    statement_timeout_s: float = Field(default=10.0, gt=0, le=3600)
    model_timeout_s: float = Field(default=120.0, gt=0, le=3600)
    model_retries: int = Field(default=2, ge=0, le=10)
    """Retries of a model call on transient failures (timeouts, connection errors, 5xx), with backoff."""
    retry_initial_s: float = Field(default=0.5, ge=0, le=60)
    max_concurrent_runs: int = Field(default=64, ge=1, le=4096)
    """Async callers (``aask``/``astream``, the API) run at most this many questions at once per process;
    more wait their turn. Runs block on the model for seconds, so this is well above the CPU count."""
    max_question_chars: int = Field(default=2000, ge=10, le=100_000)
    max_tables: int = Field(default=6, ge=1, le=100)
    """How many tables the schema retrieval step hands to the model at most, for schemas over the budget."""
    schema_budget_chars: int = Field(default=8000, ge=0, le=200_000)
    """A schema whose CREATE TABLE text fits this is given to the model whole (and cached by the server)."""
    summarize_with_model: bool = True
    """False answers from the rows with a deterministic template, with no model call."""
    intent_model_check: bool = False
    """Ask the (small) model whether a question is about the data when it names no table, column or stored
    value and comes with no hint. Off by default, and such questions are refused: the local 1.5B model
    called 29 of 31 of them on the evaluation sets "data", 21 wrongly. Turn on for a capable model."""
    read_only_check: Literal["refuse", "warn", "off"] = "refuse"
    """At start-up, try harmless rolled-back writes through the connection: ``refuse`` to start if one
    succeeds, ``warn`` (log loudly and go on), or ``off``."""
    require_readonly_role: bool = False
    """PostgreSQL: the start-up check also requires the *role* to lack write privileges (not only the
    read-only transactions the agent opens); use with a role from ``nl2sql db create-readonly-role``."""
    max_query_cost: float | None = Field(default=None, gt=0)
    """PostgreSQL: refuse a query whose planner cost estimate (``EXPLAIN``, never run) is above this."""

    @field_validator("db_url", "checkpointer_url")
    @classmethod
    def _known_scheme(cls, value: str | None) -> str | None:
        if value is None or value == "memory":
            return value
        scheme = value.split(":", 1)[0].split("+", 1)[0].lower()
        if scheme not in {"sqlite", "postgresql", "postgres"}:
            raise ConfigurationError(
                f"unsupported database URL scheme {scheme!r}: use sqlite:///PATH or postgresql://...",
                details={"url_scheme": scheme},
            )
        return value

    @property
    def local_base_url(self) -> str:
        """The endpoint the ``local`` model spec talks to."""
        return self.base_url or f"http://127.0.0.1:{DEFAULT_LOCAL_PORT}/v1"
