"""Fixtures for the Nexar side: the local identity server beside the local Altium 365."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from sandbox import AltiumSandbox
from sandbox.altium import IdentitySandbox


def free_port() -> int:
    """A port nothing listens on now, for a sign-in redirect that is never followed."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def identity(sb: AltiumSandbox) -> Iterator[IdentitySandbox]:
    """The local identity server, signing in to the clocked local Altium 365 ``sb``."""
    with IdentitySandbox(sb) as sandbox:
        yield sandbox
