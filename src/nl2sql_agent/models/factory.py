"""``make_chat_model(spec)``: one factory for every provider, imported lazily."""

from __future__ import annotations

from typing import Any

from langchain_core.language_models import BaseChatModel

from nl2sql_agent.errors import ConfigurationError
from nl2sql_agent.settings import LOCAL_MODEL_NAME

# Enough for any single SQL statement or short answer; keeps a confused model from rambling for minutes.
MAX_OUTPUT_TOKENS = 512


def make_chat_model(
    spec: str,
    *,
    base_url: str | None = None,
    api_key: str | None = None,
    timeout_s: float = 120.0,
) -> BaseChatModel:
    """Build a chat model from a spec string.

    Specs: ``local`` (the bundled Qwen2.5-Coder served by ``nl2sql model start``), ``fake`` or ``fake:PATH``
    (scripted replies from a JSON file), ``openai-compatible:NAME`` (needs ``base_url``: vLLM, llama.cpp,
    a self-hosted fine-tune), ``hf:REPO_ID`` (Hugging Face inference), or any ``provider:model`` that
    LangChain's ``init_chat_model`` knows (``openai:gpt-4o-mini``, ``anthropic:...``).
    Decoding is deterministic (temperature 0). Retries are the graph's job, so clients do not retry.

    Example:
        >>> make_chat_model("fake").model_name
        'fake'
    """
    provider, _, name = spec.partition(":")
    match provider:
        case "fake":
            from nl2sql_agent.models.fake import FakeChatModel

            return FakeChatModel.from_file(name) if name else FakeChatModel()
        case "local":
            return _openai_compatible(name or LOCAL_MODEL_NAME, base_url or _local_url(), api_key, timeout_s)
        case "openai-compatible" | "openai_compatible":
            if not base_url:
                raise ConfigurationError("the openai-compatible model spec needs a base URL (--base-url)")
            return _openai_compatible(name, base_url, api_key, timeout_s)
        case "hf" | "huggingface":
            return _huggingface(name, api_key, timeout_s)
        case _ if name:
            return _init_chat_model(spec, base_url, api_key, timeout_s)
        case _:
            raise ConfigurationError(
                f"unknown model spec {spec!r}: use local, fake:PATH, openai:MODEL, "
                "openai-compatible:MODEL (with a base URL) or hf:REPO_ID",
                details={"spec": spec},
            )


def _local_url() -> str:
    from nl2sql_agent.settings import DEFAULT_LOCAL_PORT

    return f"http://127.0.0.1:{DEFAULT_LOCAL_PORT}/v1"


def _openai_compatible(name: str, base_url: str, api_key: str | None, timeout_s: float) -> BaseChatModel:
    from langchain_openai import ChatOpenAI

    if not name:
        raise ConfigurationError("the model spec needs a model name, e.g. openai-compatible:my-model")
    return ChatOpenAI(
        model=name,
        base_url=base_url,
        api_key=api_key or "not-needed",  # type: ignore[arg-type]  # local servers ignore the key
        temperature=0,
        max_tokens=MAX_OUTPUT_TOKENS,  # type: ignore[call-arg]
        timeout=timeout_s,
        max_retries=0,
    )


def _huggingface(repo_id: str, api_key: str | None, timeout_s: float) -> BaseChatModel:
    try:
        from langchain_huggingface import ChatHuggingFace, HuggingFaceEndpoint
    except ImportError as exc:
        raise ConfigurationError("Hugging Face models need: pip install 'nl2sql-agent[hf]'") from exc
    if not repo_id:
        raise ConfigurationError("the hf model spec needs a repository id, e.g. hf:Qwen/Qwen2.5-Coder-7B-Instruct")
    llm = HuggingFaceEndpoint(  # type: ignore[call-arg]
        repo_id=repo_id,
        huggingfacehub_api_token=api_key,
        max_new_tokens=MAX_OUTPUT_TOKENS,
        do_sample=False,
        timeout=timeout_s,
    )
    return ChatHuggingFace(llm=llm)


def _init_chat_model(spec: str, base_url: str | None, api_key: str | None, timeout_s: float) -> BaseChatModel:
    from langchain.chat_models import init_chat_model

    kwargs: dict[str, Any] = {"temperature": 0, "timeout": timeout_s, "max_retries": 0}
    if base_url:
        kwargs["base_url"] = base_url
    if api_key:
        kwargs["api_key"] = api_key
    try:
        return init_chat_model(spec, **kwargs)
    except (ImportError, ValueError) as exc:
        raise ConfigurationError(f"cannot create model {spec!r}: {exc}", details={"spec": spec}) from exc
