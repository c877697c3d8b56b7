"""An OpenAI-compatible chat-completions client (hosted providers, vLLM, Ollama, llama.cpp alike).

Bounded in time (the caller's budget), tokens (`max_tokens`) and bytes (the answer is read up to
a cap). Failures leave as `ModelError` or `ModelTimeout` with a message that never holds the key.
"""

from __future__ import annotations

import json
from typing import Any

import httpx


class ModelError(Exception):
    """The model endpoint failed or answered something unusable."""


class ModelTimeout(Exception):
    """The model did not answer in time."""


class ChatModel:
    def __init__(self, http: httpx.AsyncClient, base_url: str, model: str, api_key: str | None, *, max_tokens: int,
                 max_response_bytes: int) -> None:
        self._http = http
        self._url = base_url.rstrip("/") + "/chat/completions"
        self.model = model
        self._api_key = api_key
        self._max_tokens = max_tokens
        self._max_bytes = max_response_bytes

    async def complete(self, messages: list[dict[str, str]], time_limit: float) -> str:
        headers = {"Accept": "application/json"}
        if self._api_key:
            headers["Authorization"] = f"Bearer {self._api_key}"
        body = {"model": self.model, "messages": messages, "max_tokens": self._max_tokens, "temperature": 0}
        try:
            async with self._http.stream("POST", self._url, json=body, headers=headers,
                                         timeout=httpx.Timeout(time_limit)) as response:
                raw = bytearray()
                async for chunk in response.aiter_bytes():
                    raw += chunk
                    if len(raw) > self._max_bytes:
                        raise ModelError(f"the model's answer exceeded {self._max_bytes} bytes")
        except httpx.TimeoutException:
            raise ModelTimeout(f"the model did not answer within {time_limit:.0f}s") from None
        except httpx.HTTPError as exc:
            raise ModelError(f"the model endpoint could not be reached ({type(exc).__name__})") from None
        if response.status_code != 200:
            raise ModelError(f"the model endpoint answered HTTP {response.status_code}")
        return _content(bytes(raw))


def _content(raw: bytes) -> str:
    try:
        answer: Any = json.loads(raw)
        content = answer["choices"][0]["message"]["content"]
    except (ValueError, KeyError, IndexError, TypeError):
        raise ModelError("the model's answer is not a chat completion") from None
    if not isinstance(content, str) or not content.strip():
        raise ModelError("the model's answer has no text")
    return content
