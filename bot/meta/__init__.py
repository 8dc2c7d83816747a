"""Meta's channels on plain aiohttp (no SDK): Facebook Messenger now, WhatsApp on the same pieces
later. `signature` checks a webhook request, `graph` talks to the Graph API (a configurable base,
so the tests' fake can stand in), `mappers` turns webhook events into the engine's `Inbound`,
`render` turns replies into Messenger messages, `outbox` delivers them in order with Meta's error
codes and the 24-hour window, `webhook` serves `/messenger`."""

from typing import Final

CHANNEL: Final = "messenger"
