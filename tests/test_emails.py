"""Emails: a template triplet rendered from one context and sent over real SMTP."""

from __future__ import annotations

import contextlib
import smtplib
import socket
import threading
import time
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.template import TemplateDoesNotExist

from sla_portal.core.emails import (
    EmailTransport,
    RenderedEmail,
    SendDeadlineExceeded,
    render_email,
    send_templated,
)
from tests.support.smtp import *  # noqa: F403  (the smtp_server fixture)
from tests.support.smtp import free_port

SUBJECT = """
{% if urgent %}[Urgent] {% endif %}Agreement {{ reference }}
  proposed by {{ organisation }}
"""
BODY_TXT = """Hello {{ name }},

{{ organisation }} proposed agreement {{ reference }}.
Review it at {{ site_url }}/agreements/{{ reference }}/
"""
BODY_HTML = """{% extends "emails/base.html" %}
{% block content %}
<p>Hello {{ name }},</p>
<p>{{ organisation }} proposed agreement
<a href="{{ site_url }}/agreements/{{ reference }}/">{{ reference }}</a>.</p>
{% endblock %}
"""

CONTEXT = {
    "name": "Carol",
    "organisation": "Smith & Sons <IT>",
    "reference": "SLA-2026-0001",
    "urgent": True,
}


@pytest.fixture
def email_templates(settings, tmp_path: Path) -> str:
    """The triplet ``test_emails/proposed`` in a temporary template directory.

    The portal's own templates stay on the path so the HTML body can extend the real
    ``emails/base.html``.
    """
    folder = tmp_path / "test_emails" / "proposed"
    folder.mkdir(parents=True)
    (folder / "subject.txt").write_text(SUBJECT)
    (folder / "body.txt").write_text(BODY_TXT)
    (folder / "body.html").write_text(BODY_HTML)
    engine = {**django_settings.TEMPLATES[0]}
    engine["DIRS"] = [tmp_path, *engine["DIRS"]]
    settings.TEMPLATES = [engine]
    settings.SITE_URL = "https://sla.example.test"
    return "test_emails/proposed"


def test_render_email_gives_one_line_subject(email_templates):
    rendered = render_email(email_templates, CONTEXT)

    assert rendered.subject == "[Urgent] Agreement SLA-2026-0001 proposed by Smith & Sons <IT>"


def test_text_part_is_not_html_escaped_but_html_part_is(email_templates):
    rendered = render_email(email_templates, CONTEXT)

    assert "Smith & Sons <IT> proposed agreement SLA-2026-0001." in rendered.text
    assert "Smith &amp; Sons &lt;IT&gt; proposed agreement" in rendered.html


def test_templates_link_to_site_url(email_templates):
    rendered = render_email(email_templates, CONTEXT)

    assert "https://sla.example.test/agreements/SLA-2026-0001/" in rendered.text
    assert 'href="https://sla.example.test/agreements/SLA-2026-0001/"' in rendered.html
    # The layout's footer, from emails/base.html.
    assert 'SLA Portal · <a href="https://sla.example.test/"' in rendered.html


def test_missing_template_is_an_error_not_an_empty_email(email_templates):
    with pytest.raises(TemplateDoesNotExist):
        render_email("test_emails/no_such_email", CONTEXT)


def test_send_arrives_over_smtp_as_text_and_html_alternatives(email_templates, smtp_server):
    send_templated(email_templates, CONTEXT, ["carol@acme.example"])

    (message,) = smtp_server.wait_for(1)
    assert message["Subject"] == "[Urgent] Agreement SLA-2026-0001 proposed by Smith & Sons <IT>"
    assert message["To"] == "carol@acme.example"
    assert message["From"] == django_settings.DEFAULT_FROM_EMAIL
    assert message["Auto-Submitted"] == "auto-generated"
    assert message.get_content_type() == "multipart/alternative"
    text = message.get_body(preferencelist=("plain",)).get_content()
    html = message.get_body(preferencelist=("html",)).get_content()
    assert "Review it at https://sla.example.test/agreements/SLA-2026-0001/" in text
    assert 'href="https://sla.example.test/agreements/SLA-2026-0001/"' in html
    assert 'href="https://sla.example.test/"' in html


def test_each_recipient_gets_a_message_of_their_own(email_templates, smtp_server):
    rendered = render_email(email_templates, CONTEXT)

    EmailTransport().notify(["carol@acme.example", "alice@northwind.example"], rendered)

    smtp_server.wait_for(2)
    (to_carol,) = smtp_server.to("carol@acme.example")
    (to_alice,) = smtp_server.to("Alice@Northwind.example")
    assert to_carol["To"] == "carol@acme.example"
    assert to_alice["To"] == "alice@northwind.example"


def test_extra_headers_are_sent(email_templates, smtp_server):
    rendered = render_email(email_templates, CONTEXT)

    EmailTransport().notify(["carol@acme.example"], rendered, headers={"X-SLA-Notification": "42"})

    (message,) = smtp_server.wait_for(1)
    assert message["X-SLA-Notification"] == "42"


def test_no_recipients_sends_nothing(smtp_server):
    EmailTransport().notify([], RenderedEmail("Subject", "Text", "<p>HTML</p>"))

    assert smtp_server.messages == []


def test_send_to_unreachable_smtp_server_raises(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = free_port()  # nothing listens there
    settings.EMAIL_USE_TLS = False
    settings.EMAIL_USE_SSL = False
    settings.EMAIL_TIMEOUT = 5

    with pytest.raises(OSError):
        EmailTransport().notify(
            ["carol@acme.example"], RenderedEmail("Subject", "Text", "<p>HTML</p>")
        )


def test_refused_recipient_raises(smtp_server):
    smtp_server.refuse("gone@acme.example")

    with pytest.raises(smtplib.SMTPRecipientsRefused):
        EmailTransport().notify(
            ["gone@acme.example"], RenderedEmail("Subject", "Text", "<p>HTML</p>")
        )
    assert smtp_server.messages == []


def test_transport_works_with_the_locmem_backend(settings, mailoutbox):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"

    EmailTransport(from_email="alerts@northwind.example").notify(
        ["carol@acme.example"], RenderedEmail("Breach", "Text", "<p>HTML</p>")
    )

    (message,) = mailoutbox
    assert message.from_email == "alerts@northwind.example"
    assert message.alternatives[0][1] == "text/html"


def test_transport_works_with_the_file_backend(settings, tmp_path):
    settings.EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    settings.EMAIL_FILE_PATH = tmp_path

    EmailTransport().notify(["carol@acme.example"], RenderedEmail("Breach", "Text", "<p>H</p>"))

    (written,) = tmp_path.iterdir()
    assert "Subject: Breach" in written.read_text()


class DrippingGreeter:
    """A server that sends its 220 greeting one byte at a time, each well inside the socket
    timeout, so that only a deadline on the whole conversation can end the wait."""

    def __init__(self, every: float) -> None:
        self.every = every
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.stopped = threading.Event()
        self.sent = 0
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        with contextlib.suppress(OSError):
            conn, _ = self.listener.accept()
            with conn:
                # A multi-line greeting ("220-") never ends, however long it drips.
                while not self.stopped.wait(self.every):
                    conn.sendall(b"220-slow\r\n"[self.sent % 10 : self.sent % 10 + 1])
                    self.sent += 1

    def close(self) -> None:
        self.stopped.set()
        self.listener.close()
        self.thread.join(5)


def test_the_deadline_covers_a_greeting_dripped_one_byte_at_a_time(settings):
    server = DrippingGreeter(every=0.3)
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", server.port
    settings.EMAIL_TIMEOUT = 5
    outcome: dict[str, BaseException | float] = {}

    def send() -> None:
        started = time.monotonic()
        try:
            EmailTransport().notify(
                ["carol@acme.example"], RenderedEmail("s", "t", "<p>h</p>"), deadline=1.5
            )
        except Exception as exc:
            outcome["error"] = exc
        outcome["took"] = time.monotonic() - started

    sender = threading.Thread(target=send, daemon=True)
    try:
        sender.start()
        sender.join(6)
        assert not sender.is_alive(), "the greeting kept the sender past its deadline"
    finally:
        server.close()
        sender.join(10)

    assert isinstance(outcome["error"], SendDeadlineExceeded)
    assert "cut off after 1.5s" in str(outcome["error"])
    assert 1.4 <= outcome["took"] < 3
