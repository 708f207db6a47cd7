"""The flow of events: webhook intake (``intake``) and files (``ingest``) write the durable
inbox (``inbox``), the drain (``drain``) applies it in batches — each batch whole, else its
rows one at a time (``fallback``) — and the worker (``worker``) runs the drain as rows arrive."""
