"""Downstream and the people: Slack (``bot.slack``), its listeners (``bot.listeners``), the
``/review`` command (``bot.review``), the ``review-bot`` command line and the ``run`` wiring."""
