"""A realistic demo tenant, loaded through the same services the API uses."""
