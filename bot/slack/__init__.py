"""Everything that speaks Slack: the Web API client, the limits fitter, mrkdwn, the cards,
the digest layout and delivery (the outbox drained into channels)."""
