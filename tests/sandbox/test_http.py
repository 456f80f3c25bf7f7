"""The shared local-server plumbing: lifecycle, keep-alive, body and token reading, hang-ups."""

from __future__ import annotations

import http.client
import socket
import threading
from collections.abc import Iterator

import pytest

from sandbox import AltiumSandbox, SlackSandbox
from sandbox.altium import IdentitySandbox
from sandbox.http import LocalHandler, LocalServer


class Echo(LocalServer):
    """Answers ``/drop`` by hanging up, anything else with what it read."""

    _server_name = "echo server"

    def __init__(self) -> None:
        super().__init__()
        self.handled: list[str] = []

    def _handle(self, handler: LocalHandler) -> None:
        self.handled.append(handler.path)
        if handler.path == "/drop":
            handler.drop()
            return
        body = handler.read_body()
        token = handler.bearer_token() or "-"
        answer = f"{handler.command} {token} {body.decode()}".encode()
        handler.reply(200, answer, "text/plain", {"X-Seen": str(len(self.handled))})


@pytest.fixture
def echo() -> Iterator[Echo]:
    with Echo() as server:
        yield server


def _connection(server: LocalServer) -> http.client.HTTPConnection:
    host, port = server.base_url.removeprefix("http://").split(":")
    return http.client.HTTPConnection(host, int(port), timeout=5)


def test_start_and_stop_are_idempotent() -> None:
    server = Echo()
    assert not server.running
    with pytest.raises(RuntimeError, match="the echo server is not running"):
        _ = server.base_url
    assert server.start() is server
    url = server.base_url
    assert server.start().base_url == url
    assert server.running
    server.stop()
    server.stop()
    assert not server.running


def test_serving_thread_is_a_named_daemon(echo: Echo) -> None:
    threads = [thread for thread in threading.enumerate() if thread.name == "echo-server"]
    assert len(threads) == 1 and threads[0].daemon


def test_keep_alive_answers_with_length_headers_and_no_delay(echo: Echo) -> None:
    connection = _connection(echo)
    connection.request("POST", "/a", body=b"hello", headers={"Authorization": "Bearer abc"})
    first = connection.getresponse()
    assert first.status == 200 and first.read() == b"POST abc hello"
    assert first.getheader("Content-Type") == "text/plain"
    assert first.getheader("Content-Length") == "14"
    assert first.getheader("X-Seen") == "1"
    client_port = connection.sock.getsockname()[1]
    connection.request("GET", "/b", headers={"Authorization": "Basic abc"})
    second = connection.getresponse()
    assert second.read() == b"GET - "
    assert connection.sock.getsockname()[1] == client_port
    connection.close()


@pytest.mark.parametrize("header", ["", "Bearer", "Bearer   ", "bearer xyz", "Token xyz"])
def test_bearer_token_parsing(echo: Echo, header: str) -> None:
    connection = _connection(echo)
    connection.request("GET", "/", headers={"Authorization": header} if header else {})
    text = connection.getresponse().read().decode()
    assert text == ("GET xyz " if header == "bearer xyz" else "GET - ")
    connection.close()


def test_drop_hangs_up_without_an_answer(echo: Echo) -> None:
    connection = _connection(echo)
    connection.request("GET", "/drop")
    with pytest.raises((http.client.RemoteDisconnected, ConnectionError)):
        connection.getresponse()
    connection.close()
    assert echo.handled == ["/drop"]


def test_stop_cuts_idle_keep_alive_connections() -> None:
    server = Echo().start()
    connection = _connection(server)
    connection.request("GET", "/")
    connection.getresponse().read()
    sock = connection.sock
    assert isinstance(sock, socket.socket)
    server.stop()
    sock.settimeout(5)
    assert sock.recv(1) == b""
    connection.close()


def test_every_stand_in_uses_the_shared_plumbing() -> None:
    with AltiumSandbox() as altium, SlackSandbox() as slack, IdentitySandbox(altium) as idp:
        for server in (altium, slack, idp):
            assert isinstance(server, LocalServer)
            assert server.running
            assert server.base_url.startswith("http://127.0.0.1:")
        names = {thread.name for thread in threading.enumerate()}
        assert {"altium-sandbox", "slack-sandbox", "identity-sandbox"} <= names
    for server in (altium, slack, idp):
        assert not server.running
