"""The filesystem Celery broker of `make run`, with messages that appear whole.

kombu's filesystem transport creates a message file and then writes into it; a worker
listing the folder in between takes the empty file, fails to decode it and stops for good
("Unrecoverable error: JSONDecodeError"), and with it the portal. With the scheduler
sending a task every second, that happened within minutes on a busy machine. Here a message
is written under another name and renamed into place, so a reader only ever sees complete
files (a rename within a folder is atomic).
"""

from __future__ import annotations

import os
import uuid
from time import monotonic

from kombu.exceptions import ChannelError
from kombu.transport import filesystem
from kombu.utils.encoding import str_to_bytes
from kombu.utils.json import dumps

# Readers take only names ending in ".<queue>.msg"; a file being written ends otherwise.
PARTIAL_SUFFIX = ".partial"


class Channel(filesystem.Channel):
    def _put(self, queue: str, payload: dict, **kwargs) -> None:
        """Put the message onto the queue: write it aside, then rename it into the queue."""
        name = f"{round(monotonic() * 1000)}_{uuid.uuid4()}.{queue}.msg"
        final = os.path.join(self.data_folder_out, name)
        partial = final + PARTIAL_SUFFIX
        try:
            with open(partial, "wb") as file:
                file.write(str_to_bytes(dumps(payload)))
            os.replace(partial, final)
        except OSError as exc:
            raise ChannelError(f"Cannot add file {final!r} to directory") from exc


class Transport(filesystem.Transport):
    """``CELERY_BROKER_TRANSPORT`` for a ``filesystem://`` broker URL."""

    Channel = Channel
