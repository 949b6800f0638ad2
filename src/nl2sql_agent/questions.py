"""Checking a question before any work is spent on it."""

from __future__ import annotations

from nl2sql_agent.errors import InvalidQuestionError


def clean_question(question: object, *, max_chars: int) -> str:
    """The question with surrounding whitespace removed; raises :class:`InvalidQuestionError` if unusable."""
    if not isinstance(question, str):
        raise InvalidQuestionError(f"the question must be text, not {type(question).__name__}")
    cleaned = " ".join(question.split())
    if not cleaned:
        raise InvalidQuestionError("the question is empty")
    if len(cleaned) > max_chars:
        raise InvalidQuestionError(
            f"the question is too long ({len(cleaned)} characters; the limit is {max_chars})",
            details={"length": len(cleaned), "limit": max_chars},
        )
    if "\x00" in cleaned:
        raise InvalidQuestionError("the question contains a NUL character")
    return cleaned
