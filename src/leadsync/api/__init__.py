"""The HTTP service: webhook intake, health, and the admin API (a thin face over
:mod:`leadsync.pipeline.intake`, :mod:`leadsync.pipeline.worker` and :class:`leadsync.workspace.Workspace`)."""
