"""The HTTP service's own settings (``NL2SQL_*`` variables), kept apart from the agent's :class:`Settings`."""

from __future__ import annotations

from pydantic import BaseModel, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from nl2sql_agent.auth import check_jwt_secret
from nl2sql_agent.costs import Price


class PriceSpec(BaseModel):
    """Dollars per one million input / output tokens of one model."""

    input_per_million: float = Field(ge=0)
    output_per_million: float = Field(ge=0)

    def to_price(self) -> Price:
        """The :class:`Price` value."""
        return Price(self.input_per_million, self.output_per_million)


class ServiceSettings(BaseSettings):
    """Everything the service adds on top of the agent. Every field reads ``NL2SQL_<FIELD>`` too.

    Shared state lives outside the process (PostgreSQL for keys and verified pairs, Redis for the
    cache, rate limits and usage), so any number of replicas can run behind a load balancer.
    """

    model_config = SettingsConfigDict(env_prefix="NL2SQL_", extra="ignore", frozen=True)

    redis_url: str | None = None
    """``redis://host:port/db``; ``None`` keeps cache, rate limits and usage in-process (one replica)."""
    redis_prefix: str = "nl2sql:"
    """Prefix of every Redis key the service writes, so several deployments can share one Redis."""
    keys_url: str | None = None
    """Service database: ``postgresql://...`` (API keys and verified pairs), ``file:PATH`` or ``memory``."""
    jwt_secret: SecretStr | None = None
    """HS256 secret for bearer tokens; ``None`` accepts API keys only. Weak or short secrets are refused."""
    jwt_audience: str | None = None
    jwt_issuer: str | None = None
    key_cache_ttl_s: float = Field(default=30.0, ge=0)
    """How long a replica trusts an API key it looked up; a revoked key stops working within this time."""
    rate_limit_requests: int = Field(default=60, ge=1)
    """Requests per caller per window."""
    rate_limit_window_s: float = Field(default=60.0, gt=0)
    daily_budget_usd: float | None = Field(default=5.0, ge=0)
    """Default spending limit per principal per UTC day; ``None`` switches budgets off."""
    prices: dict[str, PriceSpec] = Field(default_factory=dict)
    """Extra or overriding entries of the price table, keyed by model spec, name or provider."""
    cache_ttl_s: float = Field(default=3600.0, ge=0)
    """Lifetime of a cached answer; 0 switches the answer cache off."""
    cache_max_entries: int = Field(default=2048, ge=1)
    """Size of the in-process LRU used when there is no Redis."""
    cache_shared_by_policy: bool = False
    """Share cached answers between principals with identical policies; off keeps each principal's own."""
    data_version: str = "1"
    """Bump when the queried data changes, so cached answers from before are not served."""
    request_timeout_s: float = Field(default=120.0, gt=0)
    max_body_bytes: int = Field(default=64 * 1024, ge=1024)
    log_level: str = "INFO"
    log_json: bool = True

    @field_validator("jwt_secret")
    @classmethod
    def _strong_secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            check_jwt_secret(value.get_secret_value())
        return value
