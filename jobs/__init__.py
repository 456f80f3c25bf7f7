"""Upstream: Altium 365 through Nexar. The client and its queries, sign-in, the poller.

Imports ``state`` only; never ``bot`` nor a Slack library.
"""
