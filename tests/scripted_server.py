"""A scripted OpenAI-compatible chat-completions server for tests.

It stands in for a model under evaluation or for an LLM judge::

    with ScriptedServer(lambda body: "The answer is (B)", latency=0.05) as srv:
        client = openai.OpenAI(base_url=srv.base_url, api_key="x")
        ...
        assert srv.count == 1

The *responder* receives the parsed JSON request body and returns either a
string (the assistant message content) or a :class:`Reply` for status codes,
raw/malformed bodies, extra delay, dropped connections, etc.
Standard library only (``ThreadingHTTPServer``: one thread per connection, so
concurrent requests are not serialised).

Request bodies are kept only when asked (``keep_bodies=True``, then :attr:`ScriptedServer.requests`): a VQA bench
sends gigabytes of base64 images, which the server must not hoard. :attr:`ScriptedServer.count` and the
first-request-in / last-reply-out clock (:attr:`ScriptedServer.busy_window`, what request-path benchmarks measure)
and the most requests answered at once (:attr:`ScriptedServer.max_in_flight`) are always kept.
"""

from __future__ import annotations

import base64
import json
import threading
import time
import traceback
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable


@dataclass
class Reply:
    """What the server answers to one request.

    content: assistant message content (``None`` -> JSON ``null``).
    status: HTTP status; for >= 400 without *body* an OpenAI-style error JSON is sent.
    headers: extra response headers (e.g. ``{"Retry-After": "1"}``). A
        ``Content-Length`` given here overrides the real one (e.g. larger than
        *body* to simulate a truncated response; the connection is then closed).
    body: raw response body, sent verbatim instead of the chat.completion JSON.
    delay: seconds to wait before answering (overrides the server *latency*).
    drop: close the connection without sending anything.
    usage: ``{"prompt_tokens": .., "completion_tokens": ..}``; default: rough
        counts from text length.
    """

    content: str | None = None
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: str | None = None
    delay: float | None = None
    drop: bool = False
    usage: dict[str, int] | None = None
    finish_reason: str = "stop"


Responder = Callable[[dict], "Reply | str"]


def _message_text(message: dict) -> str:
    content = message.get("content")
    if content is None or isinstance(content, str):
        return content or ""
    return "\n".join(p.get("text", "") for p in content if p.get("type") == "text")


def _last_user(body: dict) -> dict:
    users = [m for m in body.get("messages", []) if m.get("role") == "user"]
    return users[-1] if users else {}


def user_text(body: dict) -> str:
    """Concatenated text of the last user message ('' if there is none)."""
    return _message_text(_last_user(body))


def user_images(body: dict) -> list[bytes]:
    """Decoded bytes of the base64 ``data:`` image_url parts of the last user message."""
    content = _last_user(body).get("content")
    images = []
    for part in content if isinstance(content, list) else []:
        if part.get("type") != "image_url":
            continue
        url = part["image_url"]
        url = url["url"] if isinstance(url, dict) else url
        head, sep, data = url.partition(",")
        if not (url.startswith("data:") and sep and head.endswith(";base64")):
            raise ValueError(f"not a base64 data URL: {url[:60]!r}")
        images.append(base64.b64decode(data))
    return images


def _rough_tokens(text: str) -> int:
    return max(1, len(text) // 4)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, like real API servers
    disable_nagle_algorithm = True  # headers and body go out in two writes: without this each reply waits ~40 ms
    server: "_Server"

    def log_message(self, *args: Any) -> None:  # keep test output quiet
        pass

    def _send(self, status: int, payload: str, headers: dict | None = None) -> None:
        data = payload.encode()
        headers = {"Content-Type": "application/json", **(headers or {})}
        length = next((v for k, v in headers.items() if k.lower() == "content-length"), None)
        self.send_response(status)
        for key, value in headers.items():
            if key.lower() != "content-length":
                self.send_header(key, value)
        self.send_header("Content-Length", str(length or len(data)))
        if length is not None and int(length) != len(data):
            self.close_connection = True
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        if self.path.rstrip("/").endswith("/models"):
            model = {"id": self.server.owner.model_id, "object": "model", "created": 0, "owned_by": "scripted"}
            self._send(200, json.dumps({"object": "list", "data": [model]}))
        else:
            self._send(404, json.dumps({"error": {"message": f"no route {self.path}"}}))

    def do_POST(self) -> None:
        owner = self.server.owner
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if not self.path.rstrip("/").endswith("/chat/completions"):
            return self._send(404, json.dumps({"error": {"message": f"no route {self.path}"}}))
        try:
            body = json.loads(raw)
        except ValueError:
            return self._send(400, json.dumps({"error": {"message": "request body is not JSON"}}))
        owner._arrived(body)
        try:
            self._answer(owner, body)
        finally:
            owner._left()

    def _answer(self, owner: "ScriptedServer", body: dict) -> None:
        try:
            reply = owner.responder(body)
        except Exception:  # surface responder bugs to the test via .errors and a 500
            owner.errors.append(traceback.format_exc())
            return self._send(500, json.dumps({"error": {"message": "responder raised"}}))
        reply = Reply(content=reply) if isinstance(reply, str) else reply
        delay = owner.latency if reply.delay is None else reply.delay
        if delay > 0 and owner._stopping.wait(delay):
            reply = Reply(drop=True)  # server shutting down: don't answer
        if reply.drop:
            self.close_connection = True
            return
        payload = self._render(body, reply) if reply.body is None else reply.body
        self._send(reply.status, payload, reply.headers)
        owner._replied()

    @staticmethod
    def _render(body: dict, reply: Reply) -> str:
        if reply.status >= 400:
            error = {"message": reply.content or f"scripted error {reply.status}",
                     "type": "scripted_error", "code": reply.status}
            return json.dumps({"error": error})
        prompt = _rough_tokens("".join(_message_text(m) for m in body.get("messages", [])))
        completion = _rough_tokens(reply.content or "")
        usage = dict(reply.usage or {"prompt_tokens": prompt, "completion_tokens": completion})
        usage.setdefault("total_tokens", usage.get("prompt_tokens", 0) + usage.get("completion_tokens", 0))
        return json.dumps({
            "id": f"chatcmpl-scripted-{time.monotonic_ns()}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model") or "scripted",
            "choices": [{"index": 0, "finish_reason": reply.finish_reason,
                         "message": {"role": "assistant", "content": reply.content}}],
            "usage": usage,
        })

    def handle(self) -> None:
        try:
            super().handle()
        except (BrokenPipeError, ConnectionResetError, TimeoutError):
            pass  # client gave up (e.g. its timeout is shorter than our delay)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256  # listen backlog: many clients connect at once
    owner: "ScriptedServer"


class ScriptedServer:
    """OpenAI-compatible chat server on 127.0.0.1 (ephemeral port), run in a thread."""

    def __init__(self, responder: Responder, latency: float = 0.0, *, model_id: str = "scripted",
                 keep_bodies: bool = False):  # fmt: skip
        self.responder = responder
        self.latency = latency
        self.model_id = model_id
        self.keep_bodies = keep_bodies
        self.errors: list[str] = []  # tracebacks of responder exceptions
        self._requests: list[dict] = []
        self._count = 0
        self._in_flight = 0
        self.max_in_flight = 0  # most chat requests being answered at once: the concurrency a client reached
        self.first_request_at: float | None = None  # time.monotonic() of the first POST received
        self.last_reply_at: float | None = None  # time.monotonic() after the last reply was written
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._httpd: _Server | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------
    def start(self) -> "ScriptedServer":
        self._stopping.clear()
        self._httpd = _Server(("127.0.0.1", 0), _Handler)
        self._httpd.owner = self
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,), daemon=True,
                                        name=f"ScriptedServer:{self.port}")
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is None:
            return
        self._stopping.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)
        self._httpd = None

    def __enter__(self) -> "ScriptedServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- addresses ---------------------------------------------------------
    @property
    def port(self) -> int:
        assert self._httpd is not None, "server not started"
        return self._httpd.server_address[1]

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def chat_url(self) -> str:
        return f"{self.base_url}/chat/completions"

    # -- request log -------------------------------------------------------
    def _arrived(self, body: dict) -> None:
        now = time.monotonic()
        with self._lock:
            self._count += 1
            self._in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self._in_flight)
            if self.first_request_at is None:
                self.first_request_at = now
            if self.keep_bodies:
                self._requests.append(body)

    def _left(self) -> None:
        with self._lock:
            self._in_flight -= 1

    def _replied(self) -> None:
        now = time.monotonic()
        with self._lock:
            self.last_reply_at = now

    @property
    def requests(self) -> list[dict]:
        """Snapshot of the received request bodies, in arrival order (needs ``keep_bodies=True``)."""
        if not self.keep_bodies:
            raise RuntimeError("ScriptedServer(keep_bodies=False) does not keep request bodies; pass keep_bodies=True")
        with self._lock:
            return list(self._requests)

    @property
    def count(self) -> int:
        """Chat-completion requests received (whether or not bodies are kept)."""
        with self._lock:
            return self._count

    @property
    def busy_window(self) -> float | None:
        """Seconds from the first request received to the last reply sent (None before any reply)."""
        with self._lock:
            if self.first_request_at is None or self.last_reply_at is None:
                return None
            return self.last_reply_at - self.first_request_at

    def reset(self) -> None:
        with self._lock:
            self._requests.clear()
            self._count = 0
            self.max_in_flight = self._in_flight
            self.first_request_at = self.last_reply_at = None
        self.errors.clear()
