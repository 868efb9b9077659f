"""A response in one write: uvicorn's request cycle writes a response's head when the app
starts it and its body when the app sends it, two system calls per answer; this one holds
the head and writes it with the body. The connection-limits protocol (http_protocol.py)
makes every request's cycle one of these."""

from __future__ import annotations

from uvicorn._types import ASGISendEvent, HTTPResponseStartEvent
from uvicorn.protocols.http.httptools_impl import (
    HEADER_RE,
    HEADER_VALUE_RE,
    STATUS_LINE,
    RequestResponseCycle,
)


class _Kept:
    """Stands in for the transport while uvicorn's `send` writes a response's head."""

    __slots__ = ("data",)

    def __init__(self) -> None:
        self.data: list[bytes] = []

    def write(self, data: bytes) -> None:
        self.data.append(data)


class OneWriteCycle(RequestResponseCycle):
    """uvicorn's request cycle, with a response's head (built and checked by uvicorn's own
    `send`) held until the body, so that a response whose body comes whole in one message
    (every hamr answer) leaves in one write, one system call, instead of two. Its completion
    is then uvicorn's, step by step (uvicorn 0.55's `send`); any other body goes through
    uvicorn's `send` once the head is written. A response that starts and then fails before
    its body closes the connection without its head, where uvicorn would have sent the head
    first: a broken answer either way."""

    _head: bytes | None = None

    async def send(self, message: ASGISendEvent) -> None:
        head = self._head
        if head is None:
            if self.response_started:
                await super().send(message)
                return
            if message["type"] == "http.response.start" and self._plain_start():
                self._head = self._started(message)
                if self._head is not None:
                    return
            transport, kept = self.transport, _Kept()
            self.transport = kept  # type: ignore[assignment]
            try:
                await super().send(message)
            finally:
                self.transport = transport
            if self.response_started:
                self._head = b"".join(kept.data)
            return
        self._head = None
        body: bytes = message.get("body", b"")  # type: ignore[assignment]
        if (
            message["type"] == "http.response.body"
            and not message.get("more_body", False)
            and len(body) == self.expected_content_length
            and not self.chunked_encoding
            and self.scope["method"] != "HEAD"
            and not self.disconnected
            and not self.flow.write_paused
        ):
            self.transport.write(head + body)
            self.expected_content_length = 0
            self.response_complete = True
            self.message_event.set()
            if not self.keep_alive:
                self.transport.close()
            self.on_response()
            return
        if not self.disconnected:
            self.transport.write(head)
        await super().send(message)

    def _plain_start(self) -> bool:
        """Whether uvicorn's `send` would start this response without waiting or logging: the
        case `_started` builds the head of itself."""
        return not (self.access_log or self.disconnected or self.flow.write_paused)

    def _started(self, message: HTTPResponseStartEvent) -> bytes | None:
        """The response's head as uvicorn 0.55's `send` builds it, with the state it keeps
        (keep-alive, length or chunks), but its two regular-expression checks made once over
        all the names and once over all the values instead of per header (each is a class of
        characters, so a match in the whole is a match in one). None, before any state is
        kept, for headers uvicorn would refuse: its `send` refuses them."""
        headers = [*self.default_headers, *message.get("headers", ())]
        if HEADER_RE.search(b"".join(name for name, _ in headers)) or HEADER_VALUE_RE.search(
            b"".join(value for _, value in headers)
        ):
            return None
        self.response_started = True
        self.waiting_for_100_continue = False
        status = message["status"]
        content = [STATUS_LINE[status]]
        closing = False
        for raw_name, value in headers:
            name = raw_name.lower()
            if name == b"content-length" and self.chunked_encoding is None:
                self.expected_content_length = int(value.decode())
                self.chunked_encoding = False
            elif name == b"transfer-encoding" and value.lower() == b"chunked":
                self.expected_content_length = 0
                self.chunked_encoding = True
            elif name == b"connection" and b"close" in [
                token.lower().strip() for token in value.split(b",")
            ]:
                self.keep_alive = False
                closing = True
            content.extend((name, b": ", value, b"\r\n"))
        if not self.keep_alive and not closing:
            content.append(b"connection: close\r\n")
        if (
            self.chunked_encoding is None
            and self.scope["method"] != "HEAD"
            and status not in (204, 304)
        ):
            self.chunked_encoding = True
            content.append(b"transfer-encoding: chunked\r\n")
        content.append(b"\r\n")
        return b"".join(content)
