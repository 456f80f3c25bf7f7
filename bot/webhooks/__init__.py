"""Webhooks, the sending side: every design-review event as a signed JSON POST to the
endpoints people add, the Standard Webhooks way (``payload``, ``signing``, ``http``,
``backoff``, ``sender``). The only part of ``bot`` that speaks HTTP itself (httpx): the
endpoints, their messages and attempts live in ``state.webhooks``."""
