"""API keys stored hashed in PostgreSQL (or a file), HS256 JWTs, and fail-fast secrets."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import jwt
import psycopg
import pytest

from nl2sql_agent.api import ServiceSettings
from nl2sql_agent.auth import (
    AuthenticationError,
    Authenticator,
    FileKeyStore,
    MemoryKeyStore,
    PostgresKeyStore,
    create_api_key,
    hash_api_key,
    issue_api_key,
    issue_jwt,
    make_key_store,
    policy_fingerprint,
    policy_from_spec,
    revoke_api_key,
)
from nl2sql_agent.errors import ConfigurationError

SECRET = "k" * 48


def test_postgres_store_keeps_only_the_hash(api_pg_url: str) -> None:
    store = PostgresKeyStore(api_pg_url)
    try:
        key = create_api_key(store, "alice", policy={"hidden_columns": ["customers.email"]}, daily_budget_usd=2.5)
        record = store.lookup(hash_api_key(key))
        assert record is not None and record.principal_id == "alice"
        principal = record.principal()
        assert principal.policy is not None and principal.policy.hidden_columns == {"customers.email"}
        assert principal.daily_budget_usd == 2.5
        with psycopg.connect(api_pg_url) as conn:
            stored = conn.execute("SELECT * FROM nl2sql_api_keys").fetchall()
        assert key not in json.dumps(stored, default=str)
        assert store.revoke(record.key_prefix) == 1
        assert store.lookup(hash_api_key(key)) is None
        assert [r.revoked for r in store.list() if r.key_hash == record.key_hash] == [True]
    finally:
        store.close()


def test_file_store_is_shared_between_instances(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    key = create_api_key(make_key_store(f"file:{path}"), "bob")
    assert isinstance(make_key_store(str(path)), FileKeyStore)
    assert FileKeyStore(path).lookup(hash_api_key(key)) is not None
    assert key not in path.read_text()
    assert path.stat().st_mode & 0o077 == 0


def test_unknown_store_url_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError):
        make_key_store("mysql://x")


def test_cli_helpers_issue_and_revoke_in_a_persistent_store(tmp_path: Path) -> None:
    url = f"file:{tmp_path / 'keys.json'}"
    key = issue_api_key(url, "carol", policy={"max_rows": 10})
    record = make_key_store(url).lookup(hash_api_key(key))
    assert record is not None and record.principal().policy.max_rows == 10  # type: ignore[union-attr]
    assert revoke_api_key(url, record.key_prefix) == 1
    assert make_key_store(url).lookup(hash_api_key(key)) is None
    with pytest.raises(ConfigurationError, match="NL2SQL_KEYS_URL"):
        issue_api_key(None, "carol")


async def test_authenticator_accepts_keys_and_jwts_and_refuses_the_rest() -> None:
    store = MemoryKeyStore()
    key = create_api_key(store, "alice")
    auth = Authenticator(store, jwt_secret=SECRET)
    assert (await auth.authenticate(f"Bearer {key}", None)).id == "alice"
    assert (await auth.authenticate(None, key)).via == "api_key"
    token = issue_jwt(SECRET, "bob", policy={"hidden_columns": ["customers.email"]}, daily_budget_usd=1.0)
    bob = await auth.authenticate(f"Bearer {token}", None)
    assert (bob.id, bob.via, bob.daily_budget_usd) == ("bob", "jwt", 1.0)
    assert bob.policy is not None and "customers.email" in bob.policy.hidden_columns

    now = dt.datetime.now(dt.UTC)
    forged = jwt.encode({"sub": "bob", "exp": now + dt.timedelta(hours=1)}, "x" * 48, algorithm="HS256")
    expired = jwt.encode({"sub": "bob", "exp": now - dt.timedelta(hours=1)}, SECRET, algorithm="HS256")
    no_exp = jwt.encode({"sub": "bob"}, SECRET, algorithm="HS256")
    unsigned = jwt.encode({"sub": "bob", "exp": now + dt.timedelta(hours=1)}, None, algorithm="none")
    for header, api_key in [
        (None, None),
        ("Basic abc", None),
        ("Bearer nl2sql_unknown", None),
        (f"Bearer {forged}", None),
        (f"Bearer {expired}", None),
        (f"Bearer {no_exp}", None),
        (f"Bearer {unsigned}", None),
        (None, "nl2sql_nope"),
    ]:
        with pytest.raises(AuthenticationError):
            await auth.authenticate(header, api_key)

    keys_only = Authenticator(store)
    with pytest.raises(AuthenticationError, match="not enabled"):
        await keys_only.authenticate(f"Bearer {token}", None)


@pytest.mark.parametrize("secret", ["changethis", "secret", "short-but-random-Zq9"])
def test_weak_jwt_secrets_fail_fast(secret: str) -> None:
    with pytest.raises(ConfigurationError, match="NL2SQL_JWT_SECRET"):
        ServiceSettings(jwt_secret=secret)


def test_service_settings_read_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NL2SQL_RATE_LIMIT_REQUESTS", "7")
    monkeypatch.setenv("NL2SQL_PRICES", '{"fake": {"input_per_million": 1, "output_per_million": 2}}')
    settings = ServiceSettings()
    assert settings.rate_limit_requests == 7
    assert settings.prices["fake"].to_price().output_per_million == 2


def test_policy_fingerprint_follows_the_effective_policy() -> None:
    a = policy_from_spec({"hidden_columns": ["Customers.Email"]})
    b = policy_from_spec({"hidden_columns": ["customers.email"]})
    c = policy_from_spec({"hidden_columns": ["customers.phone"]})
    assert policy_fingerprint(a) == policy_fingerprint(b) != policy_fingerprint(c)
    assert policy_fingerprint(None) == "default"
    with pytest.raises(ConfigurationError, match="invalid policy"):
        policy_from_spec({"no_such_field": 1})
