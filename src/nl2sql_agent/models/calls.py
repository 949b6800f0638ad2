"""Calling a model from a node: role metadata for usage and fakes, and provider errors made typed."""

from __future__ import annotations

from collections.abc import Sequence

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import BaseMessage

from nl2sql_agent.errors import ModelError, ModelTimeoutError, ModelUnavailableError, Nl2SqlError
from nl2sql_agent.models.fake import ROLE_METADATA_KEY


def invoke_model(model: BaseChatModel, messages: Sequence[BaseMessage], *, role: str) -> str:
    """Send ``messages`` and return the reply text; failures become :class:`ModelError` subclasses."""
    try:
        reply = model.invoke(list(messages), config={"metadata": {ROLE_METADATA_KEY: role}})
    except Nl2SqlError:
        raise
    except Exception as exc:  # noqa: BLE001  # every provider has its own error types; classify below
        raise classify_model_error(exc) from exc
    content = reply.content
    return (
        content
        if isinstance(content, str)
        else "".join(part if isinstance(part, str) else str(part.get("text", "")) for part in content)
    )


def classify_model_error(exc: BaseException) -> ModelError:
    """Map a provider exception to a typed error, without importing every provider."""
    name = type(exc).__name__.lower()
    module = type(exc).__module__
    message = f"model call failed: {type(exc).__name__}: {exc}"
    if isinstance(exc, TimeoutError) or "timeout" in name:
        return ModelTimeoutError(f"the model did not answer in time ({exc})", details={"type": type(exc).__name__})
    if isinstance(exc, ConnectionError) or "connect" in name or module.startswith(("httpx", "httpcore")):
        return ModelUnavailableError(f"cannot reach the model endpoint ({exc})", details={"type": type(exc).__name__})
    status = getattr(exc, "status_code", None)
    return ModelUnavailableError(message, details={"type": type(exc).__name__, "status_code": status})


def is_transient(exc: Exception) -> bool:
    """Retry timeouts and outages (the graph's RetryPolicy uses this); never retry bad requests."""
    if isinstance(exc, ModelTimeoutError):
        return True
    if isinstance(exc, ModelUnavailableError):
        status = exc.details.get("status_code")
        return status is None or status in {408, 409, 429} or int(status) >= 500
    return False
