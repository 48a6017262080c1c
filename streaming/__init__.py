"""The Pub/Sub front door, a shell at the top beside serving/ and cli/: the worker that scores events as they
arrive (its Prometheus metrics are defined here, not in the library) and the feed that publishes a book's events.
The decisions themselves are the library's (riskops.scoring.online), the same as the service's."""
