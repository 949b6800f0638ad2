"""Token accounting from the models' own ``usage_metadata``; never estimated by hand."""

from __future__ import annotations

import threading
import time
from typing import Any
from uuid import UUID

from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.messages import AIMessage
from langchain_core.outputs import ChatGeneration, LLMResult

from nl2sql_agent.answer import Usage


class UsageRecorder(BaseCallbackHandler):
    """Sums usage and wall time of every chat-model call in one run (thread-safe)."""

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self._usage = Usage()
        self._started: dict[UUID, float] = {}
        self.model_ms = 0.0

    @property
    def usage(self) -> Usage:
        """What was spent so far."""
        return self._usage

    def on_chat_model_start(self, serialized: dict[str, Any], messages: Any, *, run_id: UUID, **kwargs: Any) -> None:
        self._started[run_id] = time.perf_counter()

    def on_llm_end(self, response: LLMResult, *, run_id: UUID, **kwargs: Any) -> None:
        input_tokens = output_tokens = 0
        for generations in response.generations:
            for generation in generations:
                if isinstance(generation, ChatGeneration) and isinstance(generation.message, AIMessage):
                    meta = generation.message.usage_metadata or {}
                    input_tokens += int(meta.get("input_tokens", 0))
                    output_tokens += int(meta.get("output_tokens", 0))
        with self._lock:
            self._usage = self._usage + Usage(input_tokens, output_tokens, 1)
            started = self._started.pop(run_id, None)
            if started is not None:
                self.model_ms += (time.perf_counter() - started) * 1000

    def on_llm_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        with self._lock:
            started = self._started.pop(run_id, None)
            if started is not None:
                self.model_ms += (time.perf_counter() - started) * 1000
