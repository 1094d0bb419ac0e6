"""Platform tasks of the worker."""

import socket

from celery import shared_task


@shared_task(name="core.heartbeat", ignore_result=True)
def heartbeat() -> None:
    """Tell /healthz that a worker is consuming and beat is scheduling."""
    from .health import record_heartbeat

    record_heartbeat(hostname=socket.gethostname())
