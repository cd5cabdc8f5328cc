"""Insights (who is in an audience: demographics and engagement) and overlap of audiences."""
