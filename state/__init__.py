"""SQLite state of design-review-bot: snapshots, the diff between them, events, subscriptions.

This package imports nothing else of the project; ``jobs`` writes it and ``bot`` reads it.
"""
