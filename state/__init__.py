"""The memory of design-review-bot, in one SQLite file: the catalog and snapshots, the pure
diff between two snapshots, the event log, subscriptions, the outbox and its claims, digest
settings and ledger, one form of time, and the base of the error tree.

This package imports nothing else of the project: ``jobs`` (upstream) writes snapshots and
events into it, ``bot`` (downstream) plans, claims and records deliveries in it.
"""
