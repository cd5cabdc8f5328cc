"""Index management for the contacts and events collections (`/api/collection/index`)."""
