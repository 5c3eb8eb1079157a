"""Endpoint agent: antivirus status, live connections and files checked against the indicators."""
