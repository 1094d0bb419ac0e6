"""The probe calls public addresses only: private, loopback, link-local (the metadata service),
unique-local IPv6 and unspecified targets are refused after DNS resolution and on redirects,
unless SLA_PROBE_ALLOW_PRIVATE is on; the service form and the API say why a URL is refused."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from rest_framework.test import APIClient

from agreements.models import Service
from monitoring.probe import probe_once
from sla_portal.core.netguard import address_problem, host_problem


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path.startswith("/redirect"):
            self.send_response(302)
            self.send_header("Location", self.path.split("to=", 1)[1])
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def local_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("127.0.0.1", "loopback"),
        ("::1", "loopback"),
        ("10.1.2.3", "private"),
        ("172.16.0.1", "private"),
        ("192.168.1.1", "private"),
        ("169.254.169.254", "link-local"),
        ("fe80::1", "link-local"),
        ("fd00::1", "private"),
        ("0.0.0.0", "unspecified"),
        ("::ffff:127.0.0.1", "loopback"),
        ("100.64.0.1", "private"),
    ],
)
def test_internal_addresses_are_named_for_what_they_are(address, kind):
    assert kind in address_problem(address)


@pytest.mark.parametrize("address", ["93.184.215.14", "2606:4700::1111", "8.8.8.8"])
def test_public_addresses_pass(address):
    assert address_problem(address) == ""


def test_a_name_is_judged_by_what_it_resolves_to(settings):
    settings.SLA_PROBE_ALLOW_PRIVATE = False
    assert "localhost resolves to" in host_problem("localhost")


def test_the_probe_refuses_localhost_by_default(local_server, settings):
    settings.SLA_PROBE_ALLOW_PRIVATE = False
    result = probe_once(f"{local_server}/health", timeout=2)
    assert result.status_code is None
    assert "127.0.0.1 is a loopback address" in result.error
    assert "SLA_PROBE_ALLOW_PRIVATE" in result.error


def test_the_probe_calls_localhost_when_allowed(local_server, settings):
    settings.SLA_PROBE_ALLOW_PRIVATE = True
    result = probe_once(f"{local_server}/health", timeout=2)
    assert (result.status_code, result.error) == (200, "")


def test_a_redirect_to_an_internal_address_is_refused(local_server, settings, monkeypatch):
    """The first hop is allowed here (it stands in for a public server); the redirect to the
    metadata address is checked on its own connection and refused."""
    from sla_portal.core import netguard

    real = netguard.address_problem
    first_hop = local_server.split("//")[1].split(":")[0]
    monkeypatch.setattr(netguard, "address_problem", lambda a: "" if a == first_hop else real(a))
    settings.SLA_PROBE_ALLOW_PRIVATE = False
    target = "http://169.254.169.254/latest/meta-data/"
    result = probe_once(f"{local_server}/redirect?to={target}", timeout=2)
    assert result.status_code is None
    assert "169.254.169.254 is a link-local address" in result.error


@pytest.mark.django_db
def test_the_service_form_says_why_a_url_is_refused(client, alice_manager, settings):
    settings.SLA_PROBE_ALLOW_PRIVATE = False
    from agreements.forms.services import ServiceForm

    form = ServiceForm(
        data={"name": "Intranet", "criticality": "medium", "probe_url": "http://10.0.0.5/up"}
    )
    assert not form.is_valid()
    assert "10.0.0.5 is a private or reserved address" in form.errors["probe_url"][0]
    assert "SLA_PROBE_ALLOW_PRIVATE" in form.errors["probe_url"][0]


@pytest.mark.django_db
def test_the_api_says_why_a_url_is_refused_and_takes_it_when_allowed(alice_manager, settings):
    client = APIClient()
    client.force_authenticate(alice_manager)
    settings.SLA_PROBE_ALLOW_PRIVATE = False
    body = {"name": "Metadata", "probe_url": "http://169.254.169.254/latest/"}
    response = client.post("/api/services/", body, format="json")
    assert response.status_code == 400
    assert "link-local" in response.json()["probe_url"][0]
    settings.SLA_PROBE_ALLOW_PRIVATE = True
    body = {"name": "Local", "probe_url": "http://127.0.0.1:8080/health"}
    response = client.post("/api/services/", body, format="json")
    assert response.status_code == 201
    assert Service.objects.get(name="Local").probe_url == "http://127.0.0.1:8080/health"
