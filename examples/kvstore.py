"""A raw TCP key-value service written as a herder worker class: no HTTP, no WSGI.

Run it (each worker keeps its own store; use one worker for one shared store):

    herder --chdir examples -k kvstore:KVWorker -w 1 -b 127.0.0.1:7000

Then `nc 127.0.0.1 7000` and type commands, one per line (UTF-8, at most 4096 bytes):

    SET key value   ->  OK
    GET key         ->  VALUE value   or   NONE
    DEL key         ->  DELETED       or   NONE
    KEYS            ->  KEYS k1 k2 ...
    PID             ->  PID 1234      (which worker process answers)
    QUIT            ->  BYE           (and the server closes)
    anything else   ->  ERROR unknown command

What it shows about the worker contract (docs/workers.md): `loads_app = False` (no
APP_MODULE needed); `notify()` on every loop turn, at least once a second; connections taken
with `self.accept()` (counted, and correct under every accept strategy); one
`count_request()` per command (so `--max-requests` recycles the worker); on SIGTERM
(`self.alive` turns False) it stops accepting, finishes writing the replies it owes, says
`BYE shutting down` to every client and returns from `run()` within `--graceful-timeout`.
"""

from __future__ import annotations

import selectors
import socket
import time
from dataclasses import dataclass, field

from herder.workers.base import Worker

MAX_LINE = 4096
TICK = 0.5


@dataclass(slots=True, eq=False)
class Client:
    sock: socket.socket
    inbox: bytearray = field(default_factory=bytearray)
    outbox: bytearray = field(default_factory=bytearray)
    closing: bool = False


class KVWorker(Worker):
    """Serve the line protocol above to many long-lived connections from one loop."""

    loads_app = False

    def run(self) -> None:
        self.store: dict[str, str] = {}
        self.selector = selectors.DefaultSelector()
        for index, listener in enumerate(self.listeners):
            self.selector.register(listener.sock, selectors.EVENT_READ, index)
        try:
            while self.alive:
                self.notify()
                self._turn()
            self._say_goodbye()
        finally:
            self.selector.close()

    def _turn(self) -> None:
        for key, events in self.selector.select(TICK):
            if isinstance(key.data, int):
                for sock, _peer in self.accept(key.data, 16):
                    sock.setblocking(False)
                    self.selector.register(sock, selectors.EVENT_READ, Client(sock))
            elif events & selectors.EVENT_READ:
                self._read(key.data)
            else:
                self._flush(key.data)

    def _read(self, client: Client) -> None:
        try:
            data = client.sock.recv(65536)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self._drop(client)
            return
        client.inbox += data
        while b"\n" in client.inbox and not client.closing:
            line, _, rest = client.inbox.partition(b"\n")
            client.inbox = bytearray(rest)
            self._answer(client, bytes(line))
        if len(client.inbox) > MAX_LINE:
            client.outbox += b"ERROR line too long\n"
            client.closing = True
        self._flush(client)

    def _answer(self, client: Client, raw: bytes) -> None:
        self.count_request()
        words = raw.decode("utf-8", "replace").strip().split(" ", 2)
        reply = self.execute(words)
        client.outbox += reply.encode() + b"\n"
        if reply == "BYE":
            client.closing = True

    def execute(self, words: list[str]) -> str:
        """The reply to one command (pure: easy to test without sockets)."""
        command, args = words[0].upper(), words[1:]
        if command == "SET" and len(args) == 2:
            self.store[args[0]] = args[1]
            return "OK"
        if command == "GET" and len(args) == 1:
            value = self.store.get(args[0])
            return "NONE" if value is None else f"VALUE {value}"
        if command == "DEL" and len(args) == 1:
            return "DELETED" if self.store.pop(args[0], None) is not None else "NONE"
        if command == "KEYS" and not args:
            return " ".join(["KEYS", *sorted(self.store)])
        if command == "PID" and not args:
            return f"PID {self.pid}"
        if command == "QUIT" and not args:
            return "BYE"
        return "ERROR unknown command"

    def _flush(self, client: Client) -> None:
        try:
            sent = client.sock.send(client.outbox) if client.outbox else 0
        except BlockingIOError:
            sent = 0
        except OSError:
            self._drop(client)
            return
        del client.outbox[:sent]
        if not client.outbox and client.closing:
            self._drop(client)
            return
        wanted = selectors.EVENT_WRITE if client.outbox else selectors.EVENT_READ
        if self.selector.get_key(client.sock).events != wanted:
            self.selector.modify(client.sock, wanted, client)

    def _drop(self, client: Client) -> None:
        self.selector.unregister(client.sock)
        client.sock.close()

    def _say_goodbye(self) -> None:
        """Graceful stop: no new clients; tell the connected ones, flush, close (bounded)."""
        clients = [k.data for k in self.selector.get_map().values() if isinstance(k.data, Client)]
        for key in list(self.selector.get_map().values()):
            if isinstance(key.data, int):
                self.selector.unregister(key.fileobj)
        for client in clients:
            client.outbox += b"BYE shutting down\n"
            client.closing = True
            self._flush(client)
        deadline = time.monotonic() + self.cfg.graceful_timeout
        while self.selector.get_map() and time.monotonic() < deadline:
            self.notify()
            for key, _events in self.selector.select(TICK):
                self._flush(key.data)
        for key in list(self.selector.get_map().values()):
            self._drop(key.data)
