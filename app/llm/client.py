"""The OpenAI-compatible chat client: one call, temperature 0, a hard timeout, no retries of its own.

Any endpoint that speaks the OpenAI chat-completions API works (OpenAI, vLLM, Ollama, a llama.cpp server). The
`openai` package is imported here and nowhere else; its errors become Labbook's at this boundary, each with a
message that says what happened (the caller stores it as the reason the offline document stands):
- a timeout, a connection failure, a 5xx or a 429 are `LlmUnavailable` (a 429 carries `rate_limited` and its
  Retry-After in seconds, `retry_after_seconds`, in `extra`);
- any other 4xx is `LlmRefused`;
- an answer without text is `LlmAnswerInvalid`.
Nothing is retried here: a rate-limited or failing endpoint gets the offline document, never a stalled request
(the caller asks a rate-limited endpoint again later, through the outbox, no sooner than its Retry-After). Token
counts come from the endpoint's `usage` (no tokenizer is loaded, so nothing downloads one).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Literal

import openai
from openai.types.chat import ChatCompletion, ChatCompletionMessageParam

from app.errors import LlmAnswerInvalid, LlmRefused, LlmUnavailable

logger = logging.getLogger(__name__)

PROVIDER = "openai-compatible"
# An endpoint that asks for no key (a local server) still needs a non-empty one for the client library.
_NO_KEY = "unused"


@dataclass(frozen=True, slots=True)
class Endpoint:
    base_url: str
    model: str
    api_key: str | None = None
    timeout_seconds: float = 30.0
    max_tokens: int | None = None
    json_mode: bool = True


@dataclass(frozen=True, slots=True)
class Message:
    role: Literal["system", "user", "assistant"]
    content: str


@dataclass(frozen=True, slots=True)
class Completion:
    """One answer: its text, the model the endpoint says answered, token counts (0 when not reported) and latency."""

    text: str
    model: str
    prompt_tokens: int
    completion_tokens: int
    latency_ms: int


class LlmClient:
    """A client for one endpoint; safe to share between threads (the `openai` client is)."""

    def __init__(self, endpoint: Endpoint) -> None:
        self.endpoint = endpoint
        self._client = openai.OpenAI(
            base_url=endpoint.base_url,
            api_key=endpoint.api_key or _NO_KEY,
            timeout=endpoint.timeout_seconds,
            max_retries=0,
        )

    def complete(self, messages: Sequence[Message], *, timeout_seconds: float | None = None) -> Completion:
        """The model's answer to `messages`, asked for a JSON object; `timeout_seconds` (default the endpoint's)
        bounds the whole call."""
        timeout = min(timeout_seconds or self.endpoint.timeout_seconds, self.endpoint.timeout_seconds)
        started = time.monotonic()
        try:
            response = self._client.chat.completions.create(
                model=self.endpoint.model,
                messages=[_param(m) for m in messages],
                temperature=0,
                response_format={"type": "json_object"} if self.endpoint.json_mode else openai.omit,
                timeout=max(timeout, 0.1),
                max_tokens=self.endpoint.max_tokens if self.endpoint.max_tokens else openai.omit,
            )
        except openai.APIError as exc:
            raise _translated(exc, timeout) from exc
        except (ValueError, TypeError) as exc:  # a body that is not the API's JSON at all
            raise LlmUnavailable(f"the model endpoint answered something unreadable ({_short(str(exc))})") from exc
        try:
            return self._completion(response, latency_ms=int((time.monotonic() - started) * 1000))
        except (AttributeError, IndexError, TypeError) as exc:  # a 200 whose JSON is not a chat completion
            raise LlmAnswerInvalid(f"the answer is not a chat completion ({_short(str(exc))})") from exc

    def _completion(self, response: ChatCompletion, *, latency_ms: int) -> Completion:
        text = response.choices[0].message.content if response.choices else None
        if not text:
            raise LlmAnswerInvalid("the model answered with no text")
        usage = response.usage
        completion = Completion(
            text=text,
            model=response.model or self.endpoint.model,
            prompt_tokens=int(usage.prompt_tokens or 0) if usage else 0,
            completion_tokens=int(usage.completion_tokens or 0) if usage else 0,
            latency_ms=latency_ms,
        )
        logger.info(
            "llm.completion",
            extra={
                "model": completion.model,
                "prompt_tokens": completion.prompt_tokens,
                "completion_tokens": completion.completion_tokens,
                "latency_ms": latency_ms,
            },
        )
        return completion


def _param(message: Message) -> ChatCompletionMessageParam:
    if message.role == "system":
        return {"role": "system", "content": message.content}
    if message.role == "assistant":
        return {"role": "assistant", "content": message.content}
    return {"role": "user", "content": message.content}


def _translated(exc: openai.APIError, timeout: float) -> LlmUnavailable | LlmRefused:
    """Labbook's error for the client's, with a reason a person can act on."""
    if isinstance(exc, openai.APITimeoutError):
        return LlmUnavailable(f"the model did not answer within {timeout:g} s")
    if isinstance(exc, openai.APIConnectionError):
        return LlmUnavailable(f"the model endpoint could not be reached ({exc.message})")
    if isinstance(exc, openai.RateLimitError):
        after = exc.response.headers.get("retry-after")
        seconds = retry_after_seconds(after)
        wait = f"; it asks to retry after {seconds:g} s" if seconds is not None else ""
        return LlmUnavailable(
            f"the model endpoint is rate limited (429){wait}",
            extra={"retry_after": after, "retry_after_seconds": seconds, "rate_limited": True},
        )
    if isinstance(exc, openai.APIStatusError):
        status = exc.status_code
        if status >= 500:
            return LlmUnavailable(f"the model endpoint failed ({status})")
        return LlmRefused(f"the model endpoint refused the request ({status}): {_short(exc.message)}")
    return LlmUnavailable(f"the model endpoint answered something unreadable ({_short(exc.message)})")


def retry_after_seconds(value: str | None, *, now: datetime | None = None) -> float | None:
    """A Retry-After header in seconds from now: delta-seconds (`7`) or an HTTP date; None when absent or unreadable.
    A date in the past is 0."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
    if seconds != seconds or seconds in (float("inf"), float("-inf")):  # NaN or infinite: not a wait
        return None
    return max(0.0, round(seconds, 3))


def _short(text: str, limit: int = 200) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
