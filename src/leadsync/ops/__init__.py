"""What admins run around the engine: preview, replay, the health report, undo, the test lead."""
