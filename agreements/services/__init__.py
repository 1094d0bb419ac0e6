"""Writes to agreements, by area: drafting (services/drafting.py), the lifecycle
(services/lifecycle.py, parties.py, comments.py, reviews.py) and the audit trail
(services/audit.py)."""
