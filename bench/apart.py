"""A stand-in in a process of its own, driven over a pipe: the benchmarks' ``--split``.

The child builds the stand-in, sends a greeting (what the bot needs to reach it: URL,
token), then answers each command ``(name, *args)`` with that method of its handle, until
``stop``. Spawned, not forked, so it shares neither memory nor the interpreter lock with
the bot being measured.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from multiprocessing.connection import Connection
from typing import Any


def serve(conn: Connection, handle: object, greeting: object) -> None:
    """The child's side: greet, then answer commands until ``stop`` or a closed pipe."""
    conn.send(greeting)
    while True:
        try:
            command, *args = conn.recv()
        except EOFError:
            return
        if command == "stop":
            conn.send(None)
            return
        conn.send(getattr(handle, command)(*args))


class Remote:
    """The bench's side of the pipe."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def ask(self, *command: Any) -> Any:
        self.conn.send(command)
        return self.conn.recv()


@contextmanager
def apart(target: Callable[..., None], *args: Any) -> Iterator[tuple[Remote, Any]]:
    """Run ``target(conn, *args)`` (which calls ``serve``) in a process of its own; yield
    the link to it and its greeting, and stop it at the end."""
    context = multiprocessing.get_context("spawn")
    here, there = context.Pipe()
    child = context.Process(target=target, args=(there, *args), daemon=True)
    child.start()
    try:
        remote = Remote(here)
        greeting = here.recv()
        yield remote, greeting
        remote.ask("stop")
    finally:
        child.join(timeout=10)
        if child.is_alive():
            child.terminate()
