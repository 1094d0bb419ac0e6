"""A real SMTP server for tests: the portal's mail goes over a socket, as in production.

``smtp_server`` starts aiosmtpd on 127.0.0.1 and a free port and points Django's SMTP backend
at it for the test. A Celery worker started by ``tests/support/worker.py`` inherits the same
host and port, so mail sent by tasks arrives here too; ``wait_for`` covers that delay.
"""

from __future__ import annotations

import asyncio
import contextlib
import email
import email.policy
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import EmailMessage

import pytest
from aiosmtpd.controller import Controller

HOST = "127.0.0.1"


@dataclass(frozen=True)
class ReceivedMessage:
    """What the server accepted: the envelope recipients and the parsed message."""

    recipients: tuple[str, ...]
    message: EmailMessage


class SMTPServer:
    """An aiosmtpd server that keeps every message it accepts, parsed, in arrival order."""

    def __init__(self) -> None:
        self.host = HOST
        self.port = 0
        self.received: list[ReceivedMessage] = []
        # Addresses answered with 550 at RCPT, to exercise the sender's failure path.
        self.refused: set[str] = set()
        # Addresses whose RCPT is never answered (the session hangs there); "*" hangs every
        # session at its first RCPT. Other sessions go on: each is its own coroutine.
        self.hanging: set[str] = set()
        self._arrived = threading.Condition()
        self._controller: Controller | None = None

    # --- aiosmtpd handler hooks (run in the server's thread) ------------------------------

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options) -> str:
        if address.lower() in self.hanging or "*" in self.hanging:
            # Until the client gives up and goes (or the server stops): a server that hangs.
            await asyncio.Event().wait()
        if address.lower() in self.refused:
            return "550 5.1.1 Mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self._arrived:
            self.received.append(ReceivedMessage(tuple(envelope.rcpt_tos), message))
            self._arrived.notify_all()
        return "250 Message accepted for delivery"

    # --- for tests ------------------------------------------------------------------------

    @property
    def messages(self) -> list[EmailMessage]:
        """Every message accepted so far."""
        with self._arrived:
            return [received.message for received in self.received]

    def wait_for(self, count: int, timeout: float = 10) -> list[EmailMessage]:
        """Block until at least ``count`` messages arrived (mail from a worker takes a moment)."""
        with self._arrived:
            arrived = self._arrived.wait_for(lambda: len(self.received) >= count, timeout)
            if not arrived:
                raise AssertionError(
                    f"expected {count} email(s) within {timeout}s, got {len(self.received)}: "
                    f"{[str(received.message['Subject']) for received in self.received]}"
                )
            return [received.message for received in self.received]

    def to(self, address: str) -> list[EmailMessage]:
        """Messages delivered to ``address`` (envelope recipient, so Bcc counts too)."""
        address = address.lower()
        with self._arrived:
            return [
                received.message
                for received in self.received
                if address in (recipient.lower() for recipient in received.recipients)
            ]

    def refuse(self, address: str) -> None:
        """Answer RCPT TO for ``address`` with a permanent failure from now on."""
        self.refused.add(address.lower())

    def hang(self, address: str = "*") -> None:
        """Never answer RCPT TO for ``address`` (``"*"``: for anyone) from now on."""
        self.hanging.add(address.lower())

    def start(self) -> None:
        # aiosmtpd checks readiness by connecting to its port, so it needs a real number, not
        # 0; a port freed a moment ago can be taken in between, hence the few attempts.
        for attempt in range(5):
            self.port = free_port()
            controller = Controller(self, hostname=self.host, port=self.port)
            try:
                controller.start()
            except (OSError, RuntimeError):
                with contextlib.suppress(Exception):
                    controller.stop(no_assert=True)
                if attempt == 4:
                    raise
                continue
            self._controller = controller
            return

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on at the moment of asking."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


@pytest.fixture
def smtp_server(settings) -> Iterator[SMTPServer]:
    """A running SMTP server, with Django's mail backend pointed at it for this test."""
    server = SMTPServer()
    server.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = server.host
    settings.EMAIL_PORT = server.port
    settings.EMAIL_HOST_USER = ""
    settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_USE_TLS = False
    settings.EMAIL_USE_SSL = False
    settings.EMAIL_TIMEOUT = 10
    try:
        yield server
    finally:
        server.stop()


__all__ = ["ReceivedMessage", "SMTPServer", "free_port", "smtp_server"]
