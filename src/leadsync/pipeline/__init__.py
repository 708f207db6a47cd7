"""The flow of events: the durable inbox (ingest and drain), webhook intake, the worker."""
