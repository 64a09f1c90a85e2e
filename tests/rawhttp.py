"""HTTP/1.1 over a bare asyncio socket, for requests no well-behaved client library will send.

aiohttp's client refuses CR/LF in header values, normalises paths and encodes what it is given; attacks on
a server are made of exactly what it refuses. :func:`request` sends bytes as given and reads one answer;
:func:`trickle` sends them a few at a time, slowly (a slow-loris client), all bounded in time.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit


@dataclass(frozen=True)
class RawResponse:
    """One parsed answer: status, headers (names lower-cased, repeats kept in order) and body."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str | None:
        """The first value of header ``name`` (any case), or None."""
        name = name.lower()
        return next((v for k, v in self.headers if k == name), None)

    def header_names(self) -> set[str]:
        return {k for k, _ in self.headers}

    def json(self) -> Any:
        return json.loads(self.body)


def address(base_url: str) -> tuple[str, int]:
    """``(host, port)`` of an ``http://host:port`` URL."""
    parts = urlsplit(base_url)
    assert parts.hostname is not None
    assert parts.port is not None
    return parts.hostname, parts.port


def build(
    method: str | bytes,
    target: str | bytes,
    headers: list[tuple[str | bytes, str | bytes]] = (),  # type: ignore[assignment]
    body: bytes = b"",
    *,
    host: str = "127.0.0.1",
    content_length: bool = True,
) -> bytes:
    """A request's bytes: request line, ``Host``, ``Connection: close``, ``headers`` as given, the body.

    ``Content-Length`` is added for a body unless ``content_length`` is False or ``headers`` hold one.
    """

    def raw(value: str | bytes) -> bytes:
        return value if isinstance(value, bytes) else value.encode("latin-1")

    lines = [raw(method) + b" " + raw(target) + b" HTTP/1.1", b"Host: " + raw(host), b"Connection: close"]
    names = {raw(name).lower() for name, _ in headers}
    lines += [raw(name) + b": " + raw(value) for name, value in headers]
    if content_length and body and b"content-length" not in names and b"transfer-encoding" not in names:
        lines.append(b"Content-Length: " + str(len(body)).encode())
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


def _head(head: bytes) -> tuple[int, list[tuple[str, str]]]:
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    version, status, *_ = status_line.split(" ", 2)
    assert version.startswith("HTTP/1."), status_line
    headers = []
    for line in header_lines:
        name, _, value = line.partition(":")
        headers.append((name.strip().lower(), value.strip()))
    return int(status), headers


async def read_answer(reader: asyncio.StreamReader) -> RawResponse | None:
    """Read one final answer (interim 1xx answers skipped); None when the server closed without one.

    The body is read by its ``Content-Length`` or chunks, so a server that keeps the connection open
    after answering (still draining what the client declared) does not hold the reader up.
    """
    while True:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError as error:
            if not error.partial:
                return None
            raise AssertionError(f"answer cut short: {error.partial[:200]!r}") from None
        status, headers = _head(head[:-4])
        if status >= 200:
            break
    response = RawResponse(status, headers, b"")
    length = response.header("content-length")
    if (response.header("transfer-encoding") or "").lower() == "chunked":
        body = bytearray()
        while size := int((await reader.readuntil(b"\r\n")).split(b";")[0], 16):
            body += await reader.readexactly(size + 2)
            del body[-2:]
        await reader.readuntil(b"\r\n")
    elif length is not None:
        body = bytearray(await reader.readexactly(int(length)))
    else:
        body = bytearray(await reader.read())
    return RawResponse(status, headers, bytes(body))


async def request(base_url: str, data: bytes, *, within: float = 10.0) -> RawResponse:
    """Send ``data`` as is, read the answer until the server closes (``Connection: close``)."""
    host, port = address(base_url)
    async with asyncio.timeout(within):
        reader, writer = await asyncio.open_connection(host, port)
        try:
            writer.write(data)
            with contextlib.suppress(ConnectionResetError):  # it may answer and close before reading all
                await writer.drain()
            answer = await read_answer(reader)
            assert answer is not None, "the server closed the connection without an answer"
            return answer
        finally:
            writer.close()


async def trickle(
    base_url: str,
    data: bytes,
    *,
    piece: int = 3,
    interval: float = 0.1,
    send_seconds: float = 1.5,
    within: float = 10.0,
) -> RawResponse | None:
    """Send ``data`` ``piece`` bytes per ``interval`` for at most ``send_seconds``, then the rest at once.

    Returns the answer, or None when the server closed the connection without one (a timeout of its own).
    Bounded overall by ``within`` seconds.
    """
    host, port = address(base_url)
    loop = asyncio.get_running_loop()
    async with asyncio.timeout(within):
        reader, writer = await asyncio.open_connection(host, port)
        try:
            start, position = loop.time(), 0
            while position < len(data) and loop.time() - start < send_seconds:
                writer.write(data[position : position + piece])
                await writer.drain()
                position += piece
                await asyncio.sleep(interval)
            writer.write(data[position:])
            await writer.drain()
            return await read_answer(reader)
        except ConnectionResetError:
            return None
        finally:
            writer.close()
