"""The service API (JSON under /api/v1)."""
