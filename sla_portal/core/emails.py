"""The portal's emails: render a template triplet, send it through Django's mail backend.

Every email is three templates under one prefix (house style point 16)::

    templates/<prefix>/subject.txt   one line once rendered
    templates/<prefix>/body.txt      the plain-text part
    templates/<prefix>/body.html     the HTML part, extending ``emails/base.html``

rendered from one context. Sending goes through ``django.core.mail``, so the same code works
with the file backend (development), locmem (unit tests) and SMTP (production and the tests
that run a real SMTP server).
"""

from __future__ import annotations

import contextlib
import functools
import smtplib
import socket
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.core.mail.backends import smtp as django_smtp
from django.template import Context
from django.template.loader import get_template, render_to_string

# RFC 3834: out-of-office and other auto-responders must not answer automated mail, so an
# alert to a whole service desk does not come back as a dozen replies.
DEFAULT_HEADERS = {"Auto-Submitted": "auto-generated"}


class EmailNotSent(Exception):
    """The mail backend accepted fewer messages than it was given."""


class SendDeadlineExceeded(TimeoutError):
    """The SMTP conversation was cut off: it was still going at its deadline."""


@dataclass(frozen=True)
class RenderedEmail:
    """One email ready to send: a single-line subject, a text body and an HTML body."""

    subject: str
    text: str
    html: str


def render_email(template_prefix: str, context: Mapping[str, Any]) -> RenderedEmail:
    """Render ``<template_prefix>/subject.txt``, ``body.txt`` and ``body.html`` from one context.

    ``site_url`` (``settings.SITE_URL``, no trailing slash) is added to the context so every
    template can link back to the portal; a ``site_url`` given by the caller wins.
    """
    context = {"site_url": settings.SITE_URL, **context}
    subject = _render_plain(f"{template_prefix}/subject.txt", context)
    return RenderedEmail(
        # Template line breaks and indentation must not reach the header: a newline in a
        # subject is a header injection, and Django refuses to send it.
        subject=" ".join(subject.split()),
        text=_render_plain(f"{template_prefix}/body.txt", context),
        html=render_to_string(f"{template_prefix}/body.html", context),
    )


def _render_plain(template_name: str, context: dict[str, Any]) -> str:
    # Plain text is not HTML: autoescaping would show a customer "Smith &amp; Sons". The HTML
    # part stays escaped as usual. (``.template`` is the DjangoTemplates engine the portal uses.)
    template = get_template(template_name)
    return template.template.render(Context(context, autoescape=False))


class EmailTransport:
    """Sends rendered emails through Django's configured mail backend.

    One message per recipient, so a customer never sees the provider's addresses (nor the
    reverse), and each message matches one ``Notification`` row. Failures raise: the caller
    owns the retry, and its ``Notification`` row is what makes the retry send exactly once.
    """

    def __init__(self, from_email: str | None = None) -> None:
        self.from_email = from_email or settings.DEFAULT_FROM_EMAIL

    def notify(
        self,
        recipients: Sequence[str],
        rendered: RenderedEmail,
        headers: Mapping[str, str] | None = None,
        attachments: Sequence[tuple[str, bytes, str]] = (),
        on_accepted: Callable[[], None] | None = None,
        deadline: float | None = None,
    ) -> None:
        """Send ``rendered`` to each recipient; raise if any message is not accepted.

        ``attachments`` are (filename, content, content type) triples added to every message.
        ``on_accepted`` is called once the server has accepted every message and before the
        session is closed, so the caller records delivery without waiting for the server's
        goodbye. ``deadline`` (seconds) cuts off a conversation that has not finished by then
        (each socket operation is also bounded by ``EMAIL_TIMEOUT``).
        """
        if not recipients:
            return
        # The connection is looked up per call, not per transport, so a changed backend
        # (settings in tests, a long-lived worker) is always honoured.
        connection = get_connection(_backend_path(), fail_silently=False)
        watchdog = _Watchdog(deadline)
        if isinstance(connection, DeadlineSMTPBackend):
            connection.on_socket = watchdog.watch
        messages = []
        for recipient in recipients:
            message = EmailMultiAlternatives(
                subject=rendered.subject,
                body=rendered.text,
                from_email=self.from_email,
                to=[recipient],
                headers={**DEFAULT_HEADERS, **(headers or {})},
                connection=connection,
            )
            message.attach_alternative(rendered.html, "text/html")
            for filename, content, content_type in attachments:
                message.attach(filename, content, content_type)
            messages.append(message)
        # One connection for the batch: a single SMTP session rather than one per recipient.
        # Opened here, so send_messages leaves it open and the caller hears of the acceptance
        # before the QUIT.
        # The deadline runs from here: the TCP connect, the greeting, STARTTLS and login count.
        watchdog.start()
        try:
            connection.open()
            sent = connection.send_messages(messages)
            if sent != len(messages):
                raise EmailNotSent(f"{sent} of {len(messages)} messages were accepted")
            if on_accepted is not None:
                on_accepted()
        except Exception as exc:
            if watchdog.expired:
                raise SendDeadlineExceeded(
                    f"SMTP conversation cut off after {deadline:g}s: {type(exc).__name__}: {exc}"
                ) from exc
            raise
        finally:
            watchdog.cancel()
            # The goodbye is a courtesy; its failure changes nothing about what was sent.
            with contextlib.suppress(Exception):
                connection.close()


def _backend_path() -> str:
    """The configured backend, with Django's SMTP backend swapped for ``DeadlineSMTPBackend``."""
    if settings.EMAIL_BACKEND == "django.core.mail.backends.smtp.EmailBackend":
        return f"{__name__}.DeadlineSMTPBackend"
    return settings.EMAIL_BACKEND


class _SocketHook(smtplib.SMTP):
    """Hands each socket to ``_on_socket`` the moment it is connected, before the greeting.

    smtplib connects and reads the whole greeting inside the constructor, and Django keeps the
    object to itself until STARTTLS and login are done too; without this hook nothing outside
    could reach the socket while a server drips its greeting. For SMTP over TLS it sits below
    ``SMTP_SSL`` in the method order, so the plain socket is handed over before the handshake.
    """

    _on_socket: Callable[[socket.socket], None]

    def _get_socket(self, host: str, port: int, timeout: float) -> socket.socket:
        sock = super()._get_socket(host, port, timeout)  # type: ignore[misc]
        self._on_socket(sock)
        return sock


class _WatchedSMTP(_SocketHook):
    def __init__(self, *args: Any, on_socket: Callable[[socket.socket], None], **kwargs: Any):
        self._on_socket = on_socket
        super().__init__(*args, **kwargs)


class _WatchedSMTPSSL(smtplib.SMTP_SSL, _SocketHook):
    def __init__(self, *args: Any, on_socket: Callable[[socket.socket], None], **kwargs: Any):
        self._on_socket = on_socket
        super().__init__(*args, **kwargs)


class DeadlineSMTPBackend(django_smtp.EmailBackend):
    """Django's SMTP backend, telling ``on_socket`` of each socket the moment it connects.

    ``EmailTransport`` uses it in place of Django's, so that its watchdog can cut off a
    conversation at any point, from the TCP connect on.
    """

    on_socket: Callable[[socket.socket], None] = staticmethod(lambda sock: None)

    @property
    def connection_class(self) -> Callable[..., smtplib.SMTP]:
        watched = _WatchedSMTPSSL if self.use_ssl else _WatchedSMTP
        return functools.partial(watched, on_socket=self.on_socket)


class _Watchdog:
    """Cuts off an SMTP conversation that outlasts ``deadline`` seconds.

    ``EMAIL_TIMEOUT`` bounds each socket operation, but a server that answers one byte at a
    time just inside it (its greeting included) could hold a sender for ever, and past
    ``SENDING_TIMEOUT`` the row would be taken up and sent by another. Shutting the socket
    down makes the blocked read return at once, and the send fails as a dropped connection
    would. A socket handed over after the deadline (a slow TCP connect) is shut at once.
    """

    def __init__(self, deadline: float | None) -> None:
        self.deadline = deadline
        self.expired = False
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self.timer: threading.Timer | None = None

    def start(self) -> None:
        if self.deadline is not None:
            self.timer = threading.Timer(self.deadline, self._cut_off)
            self.timer.daemon = True
            self.timer.start()

    def watch(self, sock: socket.socket) -> None:
        with self._lock:
            self._sockets.append(sock)
            expired = self.expired
        if expired:
            _shut(sock)

    def _cut_off(self) -> None:
        with self._lock:
            self.expired = True
            sockets = list(self._sockets)
        for sock in sockets:
            _shut(sock)

    def cancel(self) -> None:
        if self.timer is not None:
            self.timer.cancel()


def _shut(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)


def send_templated(
    template_prefix: str, context: Mapping[str, Any], recipients: Sequence[str]
) -> RenderedEmail:
    """Render the triplet under ``template_prefix`` and send it to each recipient.

    Returns what was sent, for callers that record it alongside the notification.
    """
    rendered = render_email(template_prefix, context)
    EmailTransport().notify(recipients, rendered)
    return rendered
