"""The public status page: its data (selectors), its writes (services) and its emails.

Domain code only; the pages and the API are in ``reporting.views.status``,
``reporting.views.incidents`` and ``reporting.api.status``.
"""
