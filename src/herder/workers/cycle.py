"""One request through the stack: the socket <-> protocol <-> app glue, written once.

Every worker class drives connections the same way: feed bytes to the parser until a head is
complete, run the app through a `wsgi.Exchange`, put its output on the wire (each worker its
own way: blocking or from an event loop), then settle the request (access log, request count,
unread body) and decide whether the connection may carry another request.
A `ProtocolError` becomes a 4xx response and a closed connection here, at one boundary.

Per listener it picks the parser (HTTP/1.1, behind a PROXY preamble parser when
`--proxy-protocol` is on, or uwsgi), and per request it applies trusted forwarded headers
(HTTP listeners only: a uwsgi packet's vars already hold what nginx knows) and answers
`--static-map` paths without calling the app.

Every request is bracketed by `Worker.request_started` / `request_finished` (deadline, board,
counting) and by the `pre_request` / `post_request` hooks. With `--harakiri`, application code
(the app call and each step of its iterable) runs inside the worker's deadline; a request
that passes it is abandoned here: 504 when no head went out, else the connection is closed.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from email.utils import formatdate
from typing import TYPE_CHECKING, Any

from herder import SERVER_SOFTWARE
from herder.config.binds import BindKind
from herder.logs import ErrorStream
from herder.protocol.base import RequestParser
from herder.protocol.errors import ProtocolError
from herder.protocol.events import RequestHead
from herder.protocol.http11.head_parsers import head_parser
from herder.protocol.http11.parser import HTTP11Parser
from herder.protocol.http11.response import error_response
from herder.protocol.proxy import ProxyMode, ProxyPreambleParser
from herder.protocol.uwsgi.parser import UwsgiLimits, UwsgiParser
from herder.workers.harakiri import HarakiriTimeout, RequestToken
from herder.workers.hooks import is_default_hook, run_hook
from herder.workers.static import StaticExchange
from herder.wsgi.environ import EnvironBuilder, ServerInfo
from herder.wsgi.exchange import Exchange, ExchangeOptions
from herder.wsgi.forwarded import AddressSet, ForwardedPolicy
from herder.wsgi.input import BodyReader, Input
from herder.wsgi.static import StaticMount, find_mount, parse_mount

if TYPE_CHECKING:
    from herder.workers.base import Listener, Worker
    from herder.workers.transport import SocketTransport
    from herder.wsgi.transport import FileRange

# Unread body bytes worth reading and discarding to keep a connection; past this, close it.
DRAIN_LIMIT = 1 << 20


class DateCache:
    """The IMF-fixdate for the `Date` header, formatted at most once a second."""

    __slots__ = ("_second", "_value")

    def __init__(self) -> None:
        self._second = -1
        self._value = b""

    def __call__(self) -> bytes:
        now = int(time.time())
        if now != self._second:
            self._second = now
            self._value = formatdate(now, usegmt=True).encode("ascii")
        return self._value


@dataclass(slots=True)
class InFlight:
    """A request whose app has been called and whose response is going out."""

    exchange: Exchange | StaticExchange
    environ: dict[str, Any]
    body: BodyReader
    parser: RequestParser
    token: RequestToken  # also when it started
    head: RequestHead
    answer: bytes | None = None  # the error response of an abandoned request, once


class RequestCycle:
    """Per-worker request machinery shared by all worker classes."""

    def __init__(self, worker: Worker) -> None:
        self.worker = worker
        self.logs = worker.ctx.logs
        self.limits = worker.cfg.protocol_limits()
        self.head_parser = head_parser(worker.cfg.http_parser)  # imports an accelerator
        self.date = DateCache()
        self.server_header = SERVER_SOFTWARE.encode("ascii")
        self.options = ExchangeOptions(
            server_header=self.server_header,
            date=self.date,
            use_sendfile=worker.cfg.sendfile,
            on_error=self._on_app_error,
        )
        errors = ErrorStream(worker.ctx.logs)
        # Request hooks left at their no-op default cost nothing per request.
        self.hooks = not (
            is_default_hook(worker.cfg.pre_request) and is_default_hook(worker.cfg.post_request)
        )
        self.builders = [self._builder(lst, errors) for lst in worker.listeners]
        cfg = worker.cfg
        self.is_uwsgi = [(lst.bind.protocol or cfg.protocol) == "uwsgi" for lst in worker.listeners]
        self.uwsgi_limits = UwsgiLimits(cfg.uwsgi_buffer_size)
        self.uwsgi_allow = AddressSet(cfg.uwsgi_allow_ips)
        self.proxy_mode: ProxyMode = cfg.proxy_protocol
        self.proxy_allow = AddressSet(cfg.proxy_allow_ips)
        self.forwarded: ForwardedPolicy | None = None
        if cfg.forwarded_allow_ips:
            trusted = AddressSet(cfg.forwarded_allow_ips)
            self.forwarded = ForwardedPolicy(trusted, cfg.secure_scheme_headers)
        self.static: list[StaticMount] = [parse_mount(item) for item in cfg.static_map]

    def _builder(self, listener: Listener, errors: Any) -> EnvironBuilder:
        cfg = self.worker.cfg
        name, port = "", ""
        if listener.bind.kind is BindKind.TCP or listener.sock.family != socket.AF_UNIX:
            address = listener.sock.getsockname()
            name, port = str(address[0]), str(address[1])
        info = ServerInfo(
            server_name=name,
            server_port=port,
            url_scheme="http",
            script_name=cfg.script_name,
            multithread=self.worker.multithread,
            multiprocess=cfg.workers > 1,
            run_once=False,
            errors=errors,
        )
        return EnvironBuilder(info)

    def new_parser(self, listener_index: int, peer: tuple[str, int] | None) -> RequestParser:
        """The parser for a connection from `peer` accepted on that listener."""
        if self.is_uwsgi[listener_index]:
            return UwsgiParser(self.uwsgi_limits, self.uwsgi_allow.allows_peer(peer))
        parser = HTTP11Parser(self.limits, self.head_parser)
        if self.proxy_mode is ProxyMode.OFF:
            return parser
        return ProxyPreambleParser(parser, self.proxy_mode, self.proxy_allow.allows_peer(peer))

    def begin(
        self,
        head: RequestHead,
        parser: RequestParser,
        transport: SocketTransport,
        listener_index: int,
        peer: tuple[str, int] | None,
        keep_alive_allowed: bool,
    ) -> InFlight:
        """Call the app for `head`; the caller then sends `exchange.output()`.

        Raises `ProtocolError` when the request is refused before the app (conflicting
        forwarded scheme headers, a NUL in a static path): answer it like a parse error."""
        worker = self.worker
        if isinstance(parser, ProxyPreambleParser) and parser.info and parser.info.source:
            peer = parser.info.source
        body = BodyReader(parser, transport.receive)
        environ = self.builders[listener_index].build(head, peer, Input(body))
        if self.forwarded is not None and head.cgi is None:
            self.forwarded.apply(environ, peer)
        if self.static:
            keep_static = keep_alive_allowed and head.keep_alive and head.version >= (1, 1)
            static = self._static(environ, keep_static)
            if static is not None:  # answered by the worker: no app code, deadline or hooks
                token = worker.request_started(head.method, head.path)
                static.start()
                return InFlight(static, environ, body, parser, token, head)
        token = worker.request_started(head.method, head.path)
        exchange = Exchange(
            worker.app, environ, head, body, transport, self.options, keep_alive_allowed
        )
        flight = InFlight(exchange, environ, body, parser, token, head)
        if self.hooks:
            run_hook(worker.cfg, worker.log, "pre_request", worker, head)
        if worker.deadline is None and worker.watchdog is None:  # not self.guarded, inlined
            exchange.start()
            return flight
        try:
            with self._app_code():
                exchange.start()
        except HarakiriTimeout as exc:
            self._abandon(flight, exc)
        return flight

    @property
    def guarded(self) -> bool:
        """A deadline applies: the worker's timer, or its watchdog (threaded classes)."""
        return self.worker.deadline is not None or self.worker.watchdog is not None

    def _app_code(self) -> AbstractContextManager[None]:
        deadline = self.worker.deadline
        return deadline.inside() if deadline is not None else nullcontext()

    def output(self, flight: InFlight) -> Iterator[bytes | FileRange]:
        """The response pieces to send; under `--harakiri` each step of the application's
        iterable runs inside the deadline."""
        if not self.guarded or isinstance(flight.exchange, StaticExchange):
            return flight.exchange.output()
        return self._guarded_output(flight)

    def whole(self, flight: InFlight) -> bytes | None:
        """The complete response in one piece when the application made that possible
        (`Exchange.whole`); None: send `output(flight)`. No application code runs here."""
        exchange = flight.exchange
        if type(exchange) is not Exchange:
            return None
        return exchange.whole()

    def _guarded_output(self, flight: InFlight) -> Iterator[bytes | FileRange]:
        if flight.token.expired:
            yield from self._abandoned_answer(flight)
            return
        pieces = flight.exchange.output()
        while True:
            try:
                with self._app_code():
                    piece = next(pieces, None)
            except HarakiriTimeout as exc:
                self._abandon(flight, exc)
                yield from self._abandoned_answer(flight)
                return
            if piece is None:
                return
            yield piece

    def _abandon(self, flight: InFlight, exc: HarakiriTimeout) -> None:
        assert isinstance(flight.exchange, Exchange)  # static answers run no app code
        flight.token.expired = True
        flight.answer = flight.exchange.abandon(504)
        self.worker.on_harakiri(flight.token, exc)

    @staticmethod
    def _abandoned_answer(flight: InFlight) -> Iterator[bytes]:
        if flight.answer is not None:
            answer, flight.answer = flight.answer, None
            yield answer

    def respond(
        self,
        head: RequestHead,
        parser: RequestParser,
        transport: SocketTransport,
        listener_index: int,
        peer: tuple[str, int] | None,
        keep_alive_allowed: bool,
    ) -> tuple[InFlight | None, bool]:
        """Blocking-style workers: run the request and write its response through
        `transport`. Returns the flight (None when it was refused before the app) and
        whether the connection may carry another request."""
        try:
            flight = self.begin(head, parser, transport, listener_index, peer, keep_alive_allowed)
        except ProtocolError as error:
            transport.send_quietly(self.rejection(error, peer))
            return None, False
        try:
            whole = self.whole(flight)
            if whole is None:
                transport.send_output(self.output(flight))
            else:
                transport.send(whole)
        except OSError:
            self.logs.error.debug("Client went away during the response")
        finally:
            keep = self.settle(flight)
        return flight, keep

    def _static(self, environ: dict[str, Any], keep: bool) -> StaticExchange | None:
        found = find_mount(self.static, environ["PATH_INFO"])
        if found is None:
            return None
        tail = b"Date: " + self.date() + b"\r\nServer: " + self.server_header + b"\r\n"
        return StaticExchange(environ, found[0], found[1], tail, keep)

    def settle(self, flight: InFlight) -> bool:
        """After the output went out: log, count; True when the connection may go on."""
        exchange = flight.exchange
        exchange.close()
        if self.logs.access_enabled:
            self.logs.access(
                flight.environ,
                exchange.status,
                exchange.response_headers,
                exchange.body_bytes,
                time.monotonic() - flight.token.started,
            )
        worker = self.worker
        worker.request_finished(flight.token)
        if self.hooks:
            run_hook(
                worker.cfg,
                worker.log,
                "post_request",
                worker,
                flight.head,
                flight.environ,
                exchange,
            )
        if not (exchange.keep_alive and worker.alive and not flight.token.expired):
            return False
        try:
            if not flight.body.drain(DRAIN_LIMIT):
                return False
        except (ProtocolError, OSError):
            return False
        flight.parser.start_next_cycle()
        return True

    def rejection(self, error: ProtocolError, peer: object) -> bytes | None:
        """The response for a request the parser refused, or None to just close."""
        log = self.logs.error.warning if error.notice else self.logs.error.debug
        log("Invalid request from %s: %s", peer, error)
        if error.reply is not None:
            return error.reply
        if error.status is None:
            return None
        return error_response(error.status, self.date(), self.server_header)

    def timeout_response(self) -> bytes:
        return error_response(408, self.date(), self.server_header)

    def _on_app_error(self, message: str, exc: BaseException | None) -> None:
        if exc is None:
            self.logs.error.error(message)
        else:
            self.logs.error.error(message, exc_info=(type(exc), exc, exc.__traceback__))
