"""A deterministic, scripted chat model for tests, examples and benchmarks. It never sleeps.

Replies are chosen per call, first match wins:

1. a *rule* whose ``role`` (if set) equals the call's role and whose ``when`` (if set) occurs,
   case-insensitively, in the human messages of the call (a repair prompt still holds the question);
2. otherwise the next entry of the role's *queue* (``replies`` when the role has none);
3. otherwise the role's default (``intent`` -> ``data``; ``answer`` -> a neutral sentence).

The call's role comes from the run metadata key ``nl2sql_role`` that every node sets
(``intent``, ``sql``, ``answer``). A reply that is an exception instance is raised instead,
which is how tests script timeouts and outages. Usage is reported deterministically
(one token per whitespace-separated word) so budget tests are exact.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from pydantic import ConfigDict, PrivateAttr

from nl2sql_agent.errors import ConfigurationError

ROLE_METADATA_KEY = "nl2sql_role"
Reply = str | BaseException

_DEFAULTS: dict[str, str] = {"intent": "data", "answer": "Here is what the database returned."}


@dataclass(frozen=True)
class FakeRule:
    """Reply ``reply`` when the call's role and the last human message match."""

    reply: Reply
    when: str | None = None
    role: str | None = None


def _text(message: BaseMessage) -> str:
    content = message.content
    return content if isinstance(content, str) else json.dumps(content)


def _word_count(text: str) -> int:
    return len(text.split())


class FakeChatModel(BaseChatModel):
    """Scripted chat model; see the module docstring for how a reply is chosen."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    rules: list[FakeRule] = []
    queues: dict[str, list[Reply]] = {}
    replies: list[Reply] = []
    model_name: str = "fake"

    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)
    _positions: dict[str, int] = PrivateAttr(default_factory=dict)
    _calls: list[dict[str, Any]] = PrivateAttr(default_factory=list)

    @property
    def _llm_type(self) -> str:
        return "nl2sql-fake"

    @property
    def calls(self) -> list[dict[str, Any]]:
        """Every call so far: ``{"role", "messages": [text, ...], "reply"}``; for asserting on prompts."""
        return list(self._calls)

    def _next_from(self, key: str, queue: Sequence[Reply]) -> Reply | None:
        position = self._positions.get(key, 0)
        if position >= len(queue):
            return None
        self._positions[key] = position + 1
        return queue[position]

    def _choose(self, role: str, human_text: str) -> Reply:
        lowered = human_text.lower()
        for rule in self.rules:
            if rule.role not in (None, role):
                continue
            if rule.when is None or rule.when.lower() in lowered:
                return rule.reply
        if role in self.queues:
            chosen = self._next_from(role, self.queues[role])
        else:
            chosen = self._next_from("", self.replies)
        if chosen is not None:
            return chosen
        if role in _DEFAULTS:
            return _DEFAULTS[role]
        raise ConfigurationError(
            f"fake model has no scripted reply left for role {role!r}",
            details={"role": role, "last_message": human_text[-200:]},
        )

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        role = str((run_manager.metadata if run_manager else {}).get(ROLE_METADATA_KEY, ""))
        human_text = "\n".join(_text(m) for m in messages if isinstance(m, HumanMessage))
        with self._lock:
            reply = self._choose(role, human_text)
            self._calls.append({"role": role, "messages": [_text(m) for m in messages], "reply": reply})
        if isinstance(reply, BaseException):
            raise reply
        input_tokens = sum(_word_count(_text(m)) for m in messages)
        output_tokens = _word_count(reply)
        message = AIMessage(
            content=reply,
            usage_metadata={
                "input_tokens": input_tokens,
                "output_tokens": output_tokens,
                "total_tokens": input_tokens + output_tokens,
            },
            response_metadata={"model_name": self.model_name},
        )
        return ChatResult(generations=[ChatGeneration(message=message)])

    @classmethod
    def from_script(cls, script: Mapping[str, Any]) -> FakeChatModel:
        """Build from ``{"rules": [{"when", "role", "reply"}], "queues": {role: [...]}, "replies": [...]}``."""
        try:
            rules = [FakeRule(str(r["reply"]), r.get("when"), r.get("role")) for r in script.get("rules", [])]
            queues = {str(k): [str(v) for v in vs] for k, vs in dict(script.get("queues", {})).items()}
            replies = [str(v) for v in script.get("replies", [])]
        except (KeyError, TypeError, AttributeError) as exc:
            raise ConfigurationError(f"malformed fake model script: {exc}") from exc
        return cls(rules=rules, queues=queues, replies=replies)

    @classmethod
    def from_file(cls, path: str | Path) -> FakeChatModel:
        """Load a JSON script file (the ``fake:PATH`` model spec)."""
        try:
            script = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ConfigurationError(f"cannot read fake model script {path}: {exc}") from exc
        if isinstance(script, list):
            script = {"replies": script}
        return cls.from_script(script)
