"""The HTTP service: webhook intake, health, and the admin API (a thin face over
:mod:`leadsync.intake`, :mod:`leadsync.worker` and :class:`leadsync.workspace.Workspace`)."""
