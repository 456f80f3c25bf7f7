"""The Slack side of design-review-bot, and the ``review-bot`` command line."""
