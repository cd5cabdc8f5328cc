"""Contact ingestion and lookup."""
