"""Incident records for every run of a flow, their metrics, the daily post-incident report, and the UI page."""
