"""Negotiating with evidence: proposed targets replayed on the history the portal holds.

``arithmetic`` (pure) counts and prices the verdicts and words the summary; ``runs`` picks
what is replayed for whom, caches it per content and queues what is too large for the
request. The verdicts themselves come from ``monitoring.evaluation.replay``, which feeds
the period evaluation's own ``measure``: there is no second implementation to drift.
"""
