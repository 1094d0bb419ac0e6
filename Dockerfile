# Production image of SLA Portal: the same image runs every process, one per container
# (docker-compose.yml): web (gunicorn, the default command), the Celery worker
# (`celery -A sla_portal worker`), beat (`celery -A sla_portal beat`), the deadline loop
# (`python manage.py run_deadlines`, PostgreSQL only) and the mailer
# (`python manage.py run_mailer`).
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
# WeasyPrint renders PDFs with Pango; fonts for readable documents.
RUN apt-get update \
    && apt-get install -y --no-install-recommends libpango-1.0-0 libpangoft2-1.0-0 fonts-dejavu-core \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY pyproject.toml README.md ./
RUN pip install --upgrade pip
COPY . .
RUN pip install -e . \
    && SECRET_KEY=build-only python manage.py collectstatic --noinput

RUN useradd --create-home --uid 1000 portal && mkdir -p /app/var && chown -R portal /app/var
USER portal
EXPOSE 8000
CMD ["gunicorn", "sla_portal.wsgi", "--bind", "0.0.0.0:8000", "--workers", "3", "--access-logfile", "-"]
