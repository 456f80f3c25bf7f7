"""Local stand-ins for the services the bot talks to.

``AltiumSandbox`` serves the real Nexar GraphQL schema over HTTP on 127.0.0.1 with seeded
Altium 365 data, fault injection and an activity API, for tests, the demo and the benchmark.
"""

from .altium import AltiumSandbox

__all__ = ["AltiumSandbox"]
