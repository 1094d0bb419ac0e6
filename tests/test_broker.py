"""The filesystem broker of `make run` never hands a worker a half-written message.

kombu's own filesystem transport did: a consumer racing a producer read empty files and the
worker stopped with "Unrecoverable error: JSONDecodeError", taking `make run` down with it.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

from django.conf import settings
from kombu import Connection

MESSAGES = 1500


def race(folder: Path, transport: str) -> tuple[list[int], list[str]]:
    """A producer and a consumer on one folder at once, as beat and the worker are."""
    options = {"data_folder_in": str(folder), "data_folder_out": str(folder)}
    options.update(store_processed=False, control_folder=str(folder / "control"))
    received: list[int] = []
    errors: list[str] = []

    def produce() -> None:
        with Connection(
            "filesystem://localhost//", transport=transport, transport_options=options
        ) as connection:
            queue = connection.SimpleQueue("race")
            for number in range(MESSAGES):
                queue.put({"number": number, "padding": "x" * 20_000})

    def consume() -> None:
        with Connection(
            "filesystem://localhost//", transport=transport, transport_options=options
        ) as connection:
            queue = connection.SimpleQueue("race")
            deadline = time.monotonic() + 60
            while len(received) < MESSAGES and time.monotonic() < deadline:
                try:
                    message = queue.get(block=False)
                except queue.Empty:
                    continue
                except Exception as exc:
                    errors.append(repr(exc))
                    continue
                received.append(message.payload["number"])
                message.ack()

    threads = [threading.Thread(target=produce), threading.Thread(target=consume)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return received, errors


def test_a_consumer_racing_a_producer_reads_every_message_whole(tmp_path):
    received, errors = race(tmp_path, "sla_portal.core.broker:Transport")
    assert errors == []
    assert sorted(received) == list(range(MESSAGES))
    assert not list(tmp_path.glob("*.partial")), "nothing is left half-written"


def test_the_filesystem_broker_uses_the_whole_message_transport():
    if settings.CELERY_BROKER_URL.startswith("filesystem://"):
        assert settings.CELERY_BROKER_TRANSPORT == "sla_portal.core.broker:Transport"
