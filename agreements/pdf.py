"""The agreement as a PDF, rendered by WeasyPrint from the same sections as the page."""

from __future__ import annotations

import mimetypes
from pathlib import Path
from urllib.parse import unquote, urlsplit

from django.contrib.staticfiles import finders
from django.core.exceptions import SuspiciousFileOperation
from django.template.loader import render_to_string
from django.templatetags.static import static
from weasyprint import HTML
from weasyprint.urls import URLFetcher, URLFetcherResponse

from agreements.models import Agreement
from agreements.presentation import document_context


class StaticFilesFetcher(URLFetcher):
    """Serves ``/static/...`` straight from the static directories and fetches nothing else.

    Rendering must not depend on the portal answering HTTP requests to itself (a worker
    rendering a PDF may have no web server to ask), and a PDF must never make the server
    fetch an address someone typed into an agreement."""

    def fetch(self, url: str, headers: dict | None = None) -> URLFetcherResponse:
        if url.startswith("data:"):
            return super().fetch(url, headers)
        path = unquote(urlsplit(url).path)
        prefix = static("")
        if not path.startswith(prefix):
            raise ValueError(f"Only static files are available to the PDF, not {url}")
        try:
            found = finders.find(path.removeprefix(prefix))
        except SuspiciousFileOperation as exc:
            raise ValueError(f"Not a static file: {url}") from exc
        if not found:
            raise ValueError(f"No such static file: {url}")
        file = Path(found)
        content_type = mimetypes.guess_type(file.name)[0] or "application/octet-stream"
        return URLFetcherResponse(url, file.read_bytes(), {"Content-Type": content_type})


def render_agreement_pdf(agreement: Agreement, base_url: str) -> bytes:
    """The signable PDF of an agreement: all ten sections, targets with thresholds, the
    credit schedule and a signature block per signatory; reference, title and page numbers
    in the page margins.

    ``base_url`` is the portal's address (``request.build_absolute_uri('/')``); links in the
    PDF point there. ``agreement`` should come from ``selectors.agreement_document``."""
    # The contract itself: no review marks or edit links, whoever downloads it.
    html = render_to_string("agreements/document_pdf.html", document_context(agreement))
    return HTML(string=html, base_url=base_url, url_fetcher=StaticFilesFetcher()).write_pdf()
