"""A small Graph API client for the Send API and the Messenger profile, on aiohttp.

The base (`META_GRAPH_API_BASE`) and the version are configuration, so the tests aim it at their
fake on 127.0.0.1. Meta answers an error with ``{"error": {"code": …, "error_subcode": …}}``;
`send` turns that into one of the exceptions below, which the outbox branches on: wait and
retry (`GraphThrottled`), back off and retry (`GraphUnavailable`: 5xx, timeouts, Meta's
temporary failures), outside the messaging window (`GraphOutsideWindow`), or refused for good
(`GraphRefused`: the person is not available, an expired token, a bad request)."""

from __future__ import annotations

import json
import logging
from typing import Any, Final

import aiohttp

logger = logging.getLogger(__name__)

# Meta's throughput limits: app, user and page rate limits, "too many messages to this user".
THROTTLED: Final = frozenset({4, 17, 32, 613, 80006})
# Temporary failures Meta asks to retry: "service temporarily unavailable", "temporary send
# message failure", "unknown error".
TEMPORARY: Final = frozenset({1, 2, 1200})
# Code 10 with this subcode: the message was sent outside the allowed window.
OUTSIDE_WINDOW: Final = 2018278
PERSON_UNAVAILABLE: Final = 551
EXPIRED_TOKEN: Final = 190
TIMEOUT_S: Final = 10.0


class GraphError(Exception):
    """A call Meta did not accept."""

    def __init__(self, code: int | None, subcode: int | None = None, status: int = 0) -> None:
        super().__init__(f"graph error {code}/{subcode} (HTTP {status})")
        self.code, self.subcode, self.status = code, subcode, status


class GraphThrottled(GraphError):
    """A rate or throughput limit: wait, then send again."""


class GraphUnavailable(GraphError):
    """Meta failed or did not answer (5xx, timeout, connection): back off and send again."""


class GraphOutsideWindow(GraphError):
    """The person's messaging window has closed for this kind of message."""


class GraphRefused(GraphError):
    """Refused for good: 551 (the person is not available), 190 (the page token expired or
    was revoked), a bad request."""


def classify(status: int, body: Any) -> GraphError:
    """The exception for an error answer of the Graph API."""
    error = body.get("error") if isinstance(body, dict) else None
    code = error.get("code") if isinstance(error, dict) else None
    subcode = error.get("error_subcode") if isinstance(error, dict) else None
    if code in THROTTLED or status == 429:
        return GraphThrottled(code, subcode, status)
    if code == 10 and subcode == OUTSIDE_WINDOW:
        return GraphOutsideWindow(code, subcode, status)
    if (
        status >= 500
        or code in TEMPORARY
        or (isinstance(error, dict) and error.get("is_transient"))
    ):
        return GraphUnavailable(code, subcode, status)
    if code == EXPIRED_TOKEN:
        logger.error("the Messenger page token was refused (190): renew MESSENGER_PAGE_TOKEN")
    return GraphRefused(code, subcode, status)


class GraphClient:
    """One page's calls to the Graph API."""

    def __init__(self, base: str, version: str, token: str, *, timeout: float = TIMEOUT_S) -> None:
        self._root = f"{base.rstrip('/')}/{version}"
        self._token = token
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._session: aiohttp.ClientSession | None = None

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    async def send(
        self, recipient: str, message: dict[str, Any], *, tag: str | None = None
    ) -> str:
        """Send one message; Meta's message id. Inside the 24-hour window the message is a
        RESPONSE; with a `tag` (HUMAN_AGENT) a tagged message."""
        body: dict[str, Any] = {
            "recipient": {"id": recipient},
            "messaging_type": "MESSAGE_TAG" if tag else "RESPONSE",
            "message": message,
        }
        if tag:
            body["tag"] = tag
        answer = await self._post("me/messages", body)
        return str(answer.get("message_id", ""))

    async def set_profile(self, profile: dict[str, Any]) -> None:
        """The page's "Get started" button, greeting and persistent menu."""
        await self._post("me/messenger_profile", profile)

    async def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        try:
            async with self._http().post(
                f"{self._root}/{path}",
                params={"access_token": self._token},
                data=json.dumps(body, ensure_ascii=False).encode(),
                headers={"Content-Type": "application/json"},
            ) as response:
                try:
                    answer = await response.json(content_type=None)
                except ValueError:
                    answer = None
                if response.status != 200 or not isinstance(answer, dict) or "error" in answer:
                    raise classify(response.status, answer)
                return answer
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise GraphUnavailable(None, status=0) from exc
