"""The contact/event store: the one seam through which features read and write contacts
and events. Two implementations: MongoDB (production, aggregation pipelines) and DuckDB
(the embedded default, SQL compiled from the same ASTs)."""
