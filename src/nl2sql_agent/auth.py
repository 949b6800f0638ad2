"""Who is calling: principals, API keys (stored only as SHA-256 hashes) and HS256 JWT bearer tokens.

Every credential resolves to a :class:`Principal`: an id plus the :class:`SqlPolicy` that bounds what
its questions may read, and optionally its own daily budget. API keys are 256-bit random tokens shown
once at creation; only their SHA-256 is stored (a slow password hash buys nothing for keys with that
much entropy, and lookups stay one indexed equality). Keys live in a PostgreSQL table shared by every
replica, or in a JSON file / memory for development.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import functools
import hashlib
import hmac
import json
import re
import secrets
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

from nl2sql_agent.errors import ConfigurationError
from nl2sql_agent.safety.policy import SqlPolicy
from nl2sql_agent.servicedb import ServicePool

API_KEY_PREFIX = "nl2sql_"
KEY_TABLE = "nl2sql_api_keys"
_PRINCIPAL_ID = re.compile(r"^[A-Za-z0-9_.@:+-]{1,128}$")
_WEAK_SECRETS = frozenset(
    {"changethis", "changeme", "change-me", "secret", "jwt-secret", "default", "password", "test", "dev"}
)
MIN_JWT_SECRET_BYTES = 32


class AuthenticationError(Exception):
    """No usable credentials: missing, malformed, unknown, revoked or expired (HTTP 401)."""


@dataclass(frozen=True)
class Principal:
    """An authenticated caller."""

    id: str
    policy: SqlPolicy | None = None
    """What this caller's questions may read; ``None`` means the agent's default policy."""
    daily_budget_usd: float | None = None
    """Overrides the service's default daily budget when set."""
    via: Literal["api_key", "jwt"] = "api_key"

    @functools.cached_property
    def policy_fingerprint(self) -> str:
        """A short stable hash of the effective policy, so cache entries never cross policies."""
        return policy_fingerprint(self.policy)

    @functools.cached_property
    def namespace(self) -> str:
        """A per-principal prefix for resources such as conversation threads."""
        return "p" + hashlib.sha256(self.id.encode()).hexdigest()[:24]


def _jsonable(value: Any) -> Any:
    if isinstance(value, frozenset | set):
        return sorted(_jsonable(v) for v in value)
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in sorted(value.items())}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


def policy_to_spec(policy: SqlPolicy) -> dict[str, Any]:
    """A JSON-ready dict of every policy field (the stored and fingerprinted form)."""
    return {f.name: _jsonable(getattr(policy, f.name)) for f in dataclasses.fields(policy)}


def policy_fingerprint(policy: SqlPolicy | None) -> str:
    """Stable hash of a policy's effective content (``"default"`` for no policy)."""
    if policy is None:
        return "default"
    canonical = json.dumps(policy_to_spec(policy), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:32]


def policy_from_spec(spec: Mapping[str, Any] | None) -> SqlPolicy | None:
    """Build a :class:`SqlPolicy` from its JSON form (lists for sets); ``None`` stays ``None``.

    Example:
        >>> policy_from_spec({"hidden_columns": ["customers.email"]}).hidden_columns
        frozenset({'customers.email'})
    """
    if spec is None:
        return None
    if not isinstance(spec, Mapping):
        raise ConfigurationError("a policy must be a JSON object", details={"policy": repr(spec)[:200]})
    try:
        return SqlPolicy(**dict(spec))
    except (TypeError, ValueError) as exc:
        raise ConfigurationError(f"invalid policy: {exc}", details={"fields": sorted(spec)}) from exc


def validate_principal_id(principal_id: str) -> str:
    """Return ``principal_id`` if it is 1-128 characters of ``[A-Za-z0-9_.@:+-]``."""
    if not _PRINCIPAL_ID.match(principal_id):
        raise ConfigurationError(
            "principal id must be 1-128 characters of letters, digits and _.@:+-",
            details={"principal_id": principal_id[:140]},
        )
    return principal_id


def generate_api_key() -> str:
    """A new random API key (shown once, never stored)."""
    return API_KEY_PREFIX + secrets.token_urlsafe(32)


def hash_api_key(key: str) -> str:
    """The SHA-256 hex digest under which a key is stored."""
    return hashlib.sha256(key.encode()).hexdigest()


@dataclass(frozen=True)
class ApiKeyRecord:
    """What the key store keeps for one key; never the key itself."""

    key_hash: str
    key_prefix: str
    """The first characters of the key, to recognise it in listings."""
    principal_id: str
    policy: dict[str, Any] | None = None
    daily_budget_usd: float | None = None
    created_at: str = ""
    revoked: bool = False

    def principal(self) -> Principal:
        """The principal this key authenticates."""
        return Principal(
            id=self.principal_id,
            policy=policy_from_spec(self.policy),
            daily_budget_usd=self.daily_budget_usd,
            via="api_key",
        )


class KeyStore(Protocol):
    """Where hashed API keys live."""

    def add(self, record: ApiKeyRecord) -> None:
        """Store a new key record."""
        ...

    def lookup(self, key_hash: str) -> ApiKeyRecord | None:
        """The active (not revoked) record for ``key_hash``."""
        ...

    def revoke(self, key_prefix: str) -> int:
        """Revoke every key whose prefix is ``key_prefix``; returns how many."""
        ...

    def list(self) -> list[ApiKeyRecord]:
        """Every record, revoked ones included."""
        ...

    def ping(self) -> None:
        """Raise when the store cannot be reached."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...


def create_api_key(
    store: KeyStore,
    principal_id: str,
    *,
    policy: Mapping[str, Any] | None = None,
    daily_budget_usd: float | None = None,
) -> str:
    """Create a key for ``principal_id`` and return it; it is shown this once and stored hashed.

    Example:
        >>> store = MemoryKeyStore()
        >>> key = create_api_key(store, "alice", policy={"hidden_columns": ["customers.email"]})
        >>> store.lookup(hash_api_key(key)).principal_id
        'alice'
    """
    validate_principal_id(principal_id)
    parsed = policy_from_spec(policy)  # fail fast on a bad policy, before a key exists
    spec = policy_to_spec(parsed) if parsed is not None else None
    key = generate_api_key()
    store.add(
        ApiKeyRecord(
            key_hash=hash_api_key(key),
            key_prefix=key[: len(API_KEY_PREFIX) + 6],
            principal_id=principal_id,
            policy=spec,
            daily_budget_usd=daily_budget_usd,
            created_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        )
    )
    return key


def issue_api_key(
    keys_url: str | None,
    principal_id: str,
    *,
    policy: Mapping[str, Any] | None = None,
    daily_budget_usd: float | None = None,
) -> str:
    """Create a key in the store at ``keys_url`` and return it (``nl2sql keys create``).

    Raises:
        ConfigurationError: no persistent store is configured (a key in memory would die with the command).
    """
    if keys_url in (None, "memory"):
        raise ConfigurationError("set NL2SQL_KEYS_URL (postgresql://... or file:PATH) so the key is kept")
    store = make_key_store(keys_url)
    try:
        return create_api_key(store, principal_id, policy=policy, daily_budget_usd=daily_budget_usd)
    finally:
        store.close()


def revoke_api_key(keys_url: str | None, key_prefix: str) -> int:
    """Revoke the keys starting with ``key_prefix`` (as listed) in the store at ``keys_url``; how many."""
    store = make_key_store(keys_url)
    try:
        return store.revoke(key_prefix)
    finally:
        store.close()


class MemoryKeyStore:
    """Keys in a dict: tests and single-process development."""

    def __init__(self) -> None:
        self._records: dict[str, ApiKeyRecord] = {}
        self._lock = threading.Lock()

    def add(self, record: ApiKeyRecord) -> None:
        """Store a new key record."""
        with self._lock:
            self._records[record.key_hash] = record

    def lookup(self, key_hash: str) -> ApiKeyRecord | None:
        """The active record for ``key_hash``."""
        record = self._records.get(key_hash)
        return record if record is not None and not record.revoked else None

    def revoke(self, key_prefix: str) -> int:
        """Revoke keys by prefix."""
        with self._lock:
            hits = [r for r in self._records.values() if r.key_prefix == key_prefix and not r.revoked]
            for record in hits:
                self._records[record.key_hash] = dataclasses.replace(record, revoked=True)
        return len(hits)

    def list(self) -> list[ApiKeyRecord]:
        """Every record."""
        return list(self._records.values())

    def ping(self) -> None:
        """Always reachable."""

    def close(self) -> None:
        """Nothing to release."""


class FileKeyStore(MemoryKeyStore):
    """Keys in a JSON file, re-read on each lookup so ``nl2sql keys create`` needs no restart (dev only)."""

    def __init__(self, path: str | Path) -> None:
        super().__init__()
        self.path = Path(path)

    def _load(self) -> None:
        try:
            raw = json.loads(self.path.read_text(encoding="utf-8")) if self.path.exists() else []
        except (OSError, ValueError) as exc:
            raise ConfigurationError(f"cannot read key file {self.path}: {exc}") from exc
        self._records = {r["key_hash"]: ApiKeyRecord(**r) for r in raw}

    def _save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps([dataclasses.asdict(r) for r in self._records.values()], indent=2))
        tmp.chmod(0o600)
        tmp.replace(self.path)

    def add(self, record: ApiKeyRecord) -> None:
        """Append a record to the file."""
        with self._lock:
            self._load()
            self._records[record.key_hash] = record
            self._save()

    def lookup(self, key_hash: str) -> ApiKeyRecord | None:
        """The active record for ``key_hash``, from the file as it is now."""
        with self._lock:
            self._load()
        return super().lookup(key_hash)

    def revoke(self, key_prefix: str) -> int:
        """Revoke keys by prefix and save."""
        with self._lock:
            self._load()
        count = super().revoke(key_prefix)
        with self._lock:
            self._save()
        return count

    def list(self) -> list[ApiKeyRecord]:
        """Every record in the file."""
        with self._lock:
            self._load()
        return super().list()

    def ping(self) -> None:
        """Raise when the file exists but cannot be read."""
        with self._lock:
            self._load()


class PostgresKeyStore:
    """Keys in a PostgreSQL table shared by every replica (the production store)."""

    def __init__(self, url: str, *, max_connections: int = 4) -> None:
        self._db = ServicePool(url, what="key store", table=KEY_TABLE, ddl=KEY_TABLE_DDL, max_size=max_connections)
        self.url = self._db.url

    def add(self, record: ApiKeyRecord) -> None:
        """Insert a new key record."""
        from psycopg.types.json import Jsonb

        with self._db.connection() as conn:
            conn.execute(
                f"INSERT INTO {KEY_TABLE} (key_hash, key_prefix, principal_id, policy, daily_budget_usd)"
                " VALUES (%s, %s, %s, %s, %s)",
                (
                    record.key_hash,
                    record.key_prefix,
                    record.principal_id,
                    Jsonb(record.policy) if record.policy is not None else None,
                    record.daily_budget_usd,
                ),
            )

    def lookup(self, key_hash: str) -> ApiKeyRecord | None:
        """The active record for ``key_hash``."""
        with self._db.connection() as conn:
            row = conn.execute(
                f"SELECT key_hash, key_prefix, principal_id, policy, daily_budget_usd, created_at"
                f" FROM {KEY_TABLE} WHERE key_hash = %s AND revoked_at IS NULL",
                (key_hash,),
            ).fetchone()
        return _record(row, revoked=False) if row else None

    def revoke(self, key_prefix: str) -> int:
        """Revoke keys by prefix."""
        with self._db.connection() as conn:
            cur = conn.execute(
                f"UPDATE {KEY_TABLE} SET revoked_at = now() WHERE key_prefix = %s AND revoked_at IS NULL",
                (key_prefix,),
            )
            return int(cur.rowcount)

    def list(self) -> list[ApiKeyRecord]:
        """Every record, oldest first."""
        with self._db.connection() as conn:
            rows = conn.execute(
                f"SELECT key_hash, key_prefix, principal_id, policy, daily_budget_usd, created_at,"
                f" revoked_at IS NOT NULL FROM {KEY_TABLE} ORDER BY created_at"
            ).fetchall()
        return [_record(row[:6], revoked=bool(row[6])) for row in rows]

    def ping(self) -> None:
        """Raise when PostgreSQL cannot be reached."""
        with self._db.connection() as conn:
            conn.execute("SELECT 1")

    def close(self) -> None:
        """Close the pool."""
        self._db.close()


KEY_TABLE_DDL = f"""CREATE TABLE IF NOT EXISTS {KEY_TABLE} (
    key_hash text PRIMARY KEY,
    key_prefix text NOT NULL,
    principal_id text NOT NULL,
    policy jsonb,
    daily_budget_usd double precision,
    created_at timestamptz NOT NULL DEFAULT now(),
    revoked_at timestamptz
)"""


def _record(row: Any, *, revoked: bool) -> ApiKeyRecord:
    key_hash, key_prefix, principal_id, policy, budget, created_at = row
    return ApiKeyRecord(
        key_hash=key_hash,
        key_prefix=key_prefix,
        principal_id=principal_id,
        policy=policy,
        daily_budget_usd=budget,
        created_at=created_at.isoformat(timespec="seconds") if created_at else "",
        revoked=revoked,
    )


def make_key_store(url: str | None) -> KeyStore:
    """``postgresql://...`` -> :class:`PostgresKeyStore`; ``file:PATH`` or ``*.json`` -> :class:`FileKeyStore`;
    ``None`` or ``memory`` -> :class:`MemoryKeyStore`."""
    match url:
        case None | "memory":
            return MemoryKeyStore()
        case str() if url.split(":", 1)[0].split("+", 1)[0] in {"postgresql", "postgres"}:
            return PostgresKeyStore(url)
        case str() if url.startswith("file:"):
            return FileKeyStore(url.removeprefix("file://").removeprefix("file:"))
        case str() if url.endswith(".json"):
            return FileKeyStore(url)
    raise ConfigurationError(
        "keys_url must be postgresql://..., file:PATH, a .json path or 'memory'",
        details={"keys_url_scheme": url.split(":", 1)[0] if url else None},
    )


def check_jwt_secret(secret: str) -> str:
    """Refuse well-known or short HS256 secrets (fail fast at startup)."""
    if secret.strip().lower() in _WEAK_SECRETS or len(secret.encode()) < MIN_JWT_SECRET_BYTES:
        raise ConfigurationError(
            f"NL2SQL_JWT_SECRET must be a random string of at least {MIN_JWT_SECRET_BYTES} bytes "
            '(python -c "import secrets; print(secrets.token_urlsafe(48))")'
        )
    return secret


def issue_jwt(
    secret: str,
    principal_id: str,
    *,
    policy: Mapping[str, Any] | None = None,
    daily_budget_usd: float | None = None,
    ttl_s: float = 3600.0,
    audience: str | None = None,
    issuer: str | None = None,
) -> str:
    """Sign an HS256 bearer token for ``principal_id`` (for tests, scripts and trusted issuers)."""
    import jwt

    now = dt.datetime.now(dt.UTC)
    claims: dict[str, Any] = {
        "sub": validate_principal_id(principal_id),
        "iat": now,
        "exp": now + dt.timedelta(seconds=ttl_s),
    }
    if policy is not None:
        claims["policy"] = dict(policy)
    if daily_budget_usd is not None:
        claims["budget_usd"] = daily_budget_usd
    if audience:
        claims["aud"] = audience
    if issuer:
        claims["iss"] = issuer
    return jwt.encode(claims, check_jwt_secret(secret), algorithm="HS256")


def decode_jwt(
    token: str, secret: str, *, audience: str | None = None, issuer: str | None = None, leeway_s: float = 30.0
) -> Principal:
    """Verify an HS256 token and return its principal.

    Raises:
        AuthenticationError: bad signature, wrong algorithm, expired, or missing ``sub``/``exp``.
    """
    import jwt

    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=["HS256"],  # pinned: never trust the token's own "alg"
            audience=audience,
            issuer=issuer,
            leeway=leeway_s,
            options={"require": ["exp", "sub"]},
        )
        principal_id = validate_principal_id(str(claims["sub"]))
        policy = policy_from_spec(claims.get("policy"))
        budget = claims.get("budget_usd")
    except jwt.PyJWTError as exc:
        raise AuthenticationError(f"invalid bearer token: {exc}") from exc
    except ConfigurationError as exc:
        raise AuthenticationError(f"invalid bearer token: {exc.message}") from exc
    return Principal(
        id=principal_id,
        policy=policy,
        daily_budget_usd=float(budget) if isinstance(budget, int | float) else None,
        via="jwt",
    )


class Authenticator:
    """Turns request credentials into a :class:`Principal`.

    Accepts ``Authorization: Bearer <api key or JWT>`` or ``X-API-Key: <api key>``. API keys are told
    apart from JWTs by their ``nl2sql_`` prefix. A key found in the store is remembered in-process for
    ``key_cache_ttl_s`` seconds, so the store is not asked on every request; a revoked key is therefore
    refused by every replica at most that long after its revocation (0 asks the store every time).
    """

    def __init__(
        self,
        keys: KeyStore,
        *,
        jwt_secret: str | None = None,
        jwt_audience: str | None = None,
        jwt_issuer: str | None = None,
        key_cache_ttl_s: float = 30.0,
        key_cache_max_entries: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.keys = keys
        self._jwt_secret = check_jwt_secret(jwt_secret) if jwt_secret else None
        self._audience = jwt_audience
        self._issuer = jwt_issuer
        self._key_cache_ttl_s = key_cache_ttl_s
        self._key_cache_max_entries = key_cache_max_entries
        self._clock = clock
        # Keyed by the key's hash, like the store: the key itself is never kept.
        self._known_keys: dict[str, tuple[float, Principal]] = {}

    def known(self, authorization: str | None, api_key: str | None) -> Principal | None:
        """The principal of an API key this replica looked up recently, without any I/O; else ``None``.

        For hot paths that fall back to :meth:`authenticate` whenever this says ``None``.
        """
        try:
            token = _token(authorization, api_key)
        except AuthenticationError:
            return None  # the full path explains the problem
        if not token or not token.startswith(API_KEY_PREFIX):
            return None
        known = self._known_keys.get(hash_api_key(token))
        return known[1] if known is not None and self._clock() < known[0] else None

    async def authenticate(self, authorization: str | None, api_key: str | None) -> Principal:
        """The caller's principal.

        Raises:
            AuthenticationError: no credentials, or credentials that do not verify.
        """
        token = _token(authorization, api_key)
        if not token:
            raise AuthenticationError("missing credentials: send an API key or a bearer token")
        if token.startswith(API_KEY_PREFIX):
            return await self._from_api_key(token)
        if self._jwt_secret is None:
            raise AuthenticationError("bearer tokens are not enabled on this server; use an API key")
        return decode_jwt(token, self._jwt_secret, audience=self._audience, issuer=self._issuer)

    async def _from_api_key(self, key: str) -> Principal:
        key_hash = hash_api_key(key)
        known = self._known_keys.get(key_hash)
        if known is not None and self._clock() < known[0]:
            return known[1]
        record = await asyncio.to_thread(self.keys.lookup, key_hash)
        # compare_digest is belt and braces: the store already matched on the hash.
        if record is None or not hmac.compare_digest(record.key_hash, key_hash):
            self._known_keys.pop(key_hash, None)
            raise AuthenticationError("unknown or revoked API key")
        principal = record.principal()
        if self._key_cache_ttl_s > 0:
            if len(self._known_keys) >= self._key_cache_max_entries:
                self._known_keys.clear()  # rare (that many live keys in one replica); simply start over
            self._known_keys[key_hash] = (self._clock() + self._key_cache_ttl_s, principal)
        return principal


def _token(authorization: str | None, api_key: str | None) -> str | None:
    """The credential from ``X-API-Key`` or ``Authorization: Bearer``; raises for another scheme."""
    token = api_key.strip() if api_key else None
    if token is None and authorization:
        scheme, _, value = authorization.strip().partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise AuthenticationError("use 'Authorization: Bearer <token>' or 'X-API-Key: <key>'")
        token = value.strip()
    return token


__all__ = [
    "API_KEY_PREFIX",
    "ApiKeyRecord",
    "AuthenticationError",
    "Authenticator",
    "FileKeyStore",
    "KeyStore",
    "MemoryKeyStore",
    "PostgresKeyStore",
    "Principal",
    "check_jwt_secret",
    "create_api_key",
    "decode_jwt",
    "generate_api_key",
    "hash_api_key",
    "issue_api_key",
    "issue_jwt",
    "make_key_store",
    "policy_fingerprint",
    "policy_from_spec",
    "policy_to_spec",
    "revoke_api_key",
]
