"""Experience beside compliance (docs/experience.md): CSAT and NPS surveys and their targets.

``arithmetic`` holds the pure figures (mean, NPS, the minimum-sample rule); ``tokens`` the
signed survey links; ``services`` the writes (inviting, answering); ``measure`` what the
period evaluation reads.
"""
