"""SLA Portal settings, read from the environment in this one place (12-factor).

With no environment variables at all the portal runs on embedded defaults that need no
server: SQLite under ``var/``, a filesystem Celery broker under ``var/celery/`` and emails
written as files under ``var/mail/``. Set ``DATABASE_URL`` and ``REDIS_URL`` to run on
PostgreSQL and Redis.
"""

import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("SLA_VAR_DIR", BASE_DIR / "var"))
VAR_DIR.mkdir(parents=True, exist_ok=True)


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


def env_rate(name: str, default: str) -> str | None:
    """A throttle rate like ``100/minute``; ``off`` (or ``0``) means no limit."""
    value = os.environ.get(name, default).strip()
    return None if value.lower() in {"", "off", "0", "none"} else value


DEBUG = env_bool("DEBUG", default=False)
# Demo mode (seeded demo users with published passwords) is only ever allowed with DEBUG
# or when explicitly asked for; `make run` sets both.
DEMO_MODE = env_bool("SLA_DEMO", default=DEBUG)

SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off.")
    SECRET_KEY = "insecure-development-key-only-used-with-debug"
elif not DEBUG:
    # A short, repetitive or published key lets anyone forge sessions, password-reset links and
    # signed alert links. The test settings' own key passes only under tests.settings.
    from sla_portal.core.secret_key import secret_key_problem

    _problem = secret_key_problem(
        SECRET_KEY, settings_module=os.environ.get("DJANGO_SETTINGS_MODULE", "")
    )
    if _problem:
        raise ImproperlyConfigured(
            f"SECRET_KEY is weak ({_problem}). Set a random one of at least 50 characters, e.g. "
            "python -c 'import secrets; print(secrets.token_urlsafe(50))'."
        )

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]" if DEBUG else "")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")
# The absolute address of the portal, used for links in emails and PDFs.
SITE_URL = os.environ.get("SITE_URL", f"http://127.0.0.1:{os.environ.get('PORT', '8000')}").rstrip(
    "/"
)

INSTALLED_APPS = [
    "sla_portal.core",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "crispy_forms",
    "crispy_bootstrap5",
    "django_celery_beat",
    # Login throttling (django-axes): maintained since 2008 under Jazzband, the usual answer
    # for Django; failures per username and address are rows, visible and clearable in the admin.
    "axes",
    "agreements",
    "monitoring",
    "reporting",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "sla_portal.core.actor.ActorMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # A Content-Security-Policy on every response (CONTENT_SECURITY_POLICY below).
    "csp.middleware.CSPMiddleware",
    # Signed-in pages, PDFs and CSVs stay out of shared and browser caches.
    "sla_portal.core.middleware.PrivateCacheMiddleware",
    # Turns a login refused during a lockout into the lockout page (registration/locked_out).
    "axes.middleware.AxesMiddleware",
    # Last, inside CommonMiddleware (a missing slash still redirects) and the others.
    "sla_portal.core.errors.DebugErrorPagesMiddleware",
]

# Error pages are the portal's styled ones in every mode (sla_portal/core/errors.py), JSON
# under /api/. With DEBUG on, DEBUG_ERROR_PAGES=1 brings back Django's technical pages (the
# URL list on a 404, the traceback on a 500); tracebacks are logged to the terminal anyway.
DEBUG_ERROR_PAGES = env_bool("DEBUG_ERROR_PAGES")
CSRF_FAILURE_VIEW = "sla_portal.core.errors.csrf_failure"

ROOT_URLCONF = "sla_portal.urls"
WSGI_APPLICATION = "sla_portal.wsgi.application"
ASGI_APPLICATION = "sla_portal.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "sla_portal.core.context_processors.portal",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------
DATABASES = {
    "default": dj_database_url.config(
        default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}",
        conn_max_age=int(os.environ.get("DB_CONN_MAX_AGE", "60")),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # A file, not memory, so that a Celery worker process in the tests sees the same data.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test.sqlite3")}
    # Web, worker and beat write to the one file at once. A deferred transaction that reads
    # and then writes fails at once with "database is locked" when another holds the write
    # lock (SQLite does not wait there, to avoid a deadlock); IMMEDIATE takes the write lock
    # at BEGIN, where the timeout applies, and WAL lets readers go on during a write.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "timeout": 20,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    )
# A request the database could not answer (down, restarting, a lock timeout) answers 503 with
# this Retry-After, in seconds (sla_portal.core.errors.database_unavailable): long enough for a
# restart or a failover, short enough that a feed catches up soon after.
DATABASE_RETRY_AFTER_SECONDS = int(os.environ.get("DATABASE_RETRY_AFTER_SECONDS", "15"))
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "core.User"
# Axes first: it refuses a locked-out username and address before the password is checked.
AUTHENTICATION_BACKENDS = [
    "sla_portal.core.auth_backends.LoginThrottleBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-gb"
TIME_ZONE = os.environ.get("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

# --- Static files ---------------------------------------------------------------------------
STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT", BASE_DIR / "staticfiles"))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}
MEDIA_ROOT = VAR_DIR / "media"

# --- Email ----------------------------------------------------------------------------------
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "SLA Portal <sla-portal@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
EMAIL_HOST = os.environ.get("EMAIL_HOST", "")
if EMAIL_HOST:
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    EMAIL_PORT = int(os.environ.get("EMAIL_PORT", "25"))
    EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
    EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
    EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS")
    EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL")
    # Seconds for each socket operation of an SMTP conversation (connect, greeting, each
    # command). A server that hangs costs a sender thread this long per step, so it is kept
    # short; run_mailer's other threads go on meanwhile.
    EMAIL_TIMEOUT = int(os.environ.get("EMAIL_TIMEOUT", "10"))
else:
    EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    EMAIL_FILE_PATH = VAR_DIR / "mail"

# Notifications (core.notifications): a failed email is retried with a growing back-off
# (30 s, 1 min, 2 min … at most an hour apart); after this many attempts it is marked failed
# and shown as a delivery problem instead. Eight attempts span a little over an hour.
NOTIFY_MAX_ATTEMPTS = int(os.environ.get("NOTIFY_MAX_ATTEMPTS", "8"))

# The mail process (manage.py run_mailer, core.mailer): this many sender threads, each sending
# one email at a time, so one SMTP conversation that hangs holds up one thread, not the queue.
# Woken by PostgreSQL NOTIFY when a notification is committed, and looking every
# MAILER_POLL_SECONDS anyway (the only way on SQLite, where it runs one thread).
MAILER_THREADS = int(os.environ.get("MAILER_THREADS", "4"))
MAILER_POLL_SECONDS = float(os.environ.get("MAILER_POLL_SECONDS", "1"))

# /healthz (core.health): the parts whose failure answers 503 (the others are reported only;
# see core.health for why SMTP is not required), and how old each process's heartbeat may be.
HEALTH_REQUIRED_PARTS = env_list("HEALTH_REQUIRED_PARTS", "database,broker,worker,deadlines,mailer")
# The deadline loop and the mailer beat about once a second: a few seconds of silence is news.
DEADLINES_HEARTBEAT_MAX_AGE_SECONDS = float(os.environ.get("DEADLINES_HEARTBEAT_MAX_AGE", "10"))
MAILER_HEARTBEAT_MAX_AGE_SECONDS = float(os.environ.get("MAILER_HEARTBEAT_MAX_AGE", "10"))
# Seconds to wait for the SMTP server's greeting in the health check (0: no connect check).
HEALTH_SMTP_CONNECT_TIMEOUT = float(os.environ.get("HEALTH_SMTP_CONNECT_TIMEOUT", "1"))
# Each web process computes the /healthz report at most once per this many seconds and serves
# it from memory meanwhile: probes every second cost no SMTP session and few queries.
HEALTH_CACHE_SECONDS = float(os.environ.get("HEALTH_CACHE_SECONDS", "5"))

# Monthly reports (reporting.services): a closed month's report is a draft that provider staff
# review (root causes) and issue; the beat task issues a draft nobody issued after this many
# days. 0 issues every report as soon as its month closes.
REPORT_REVIEW_DAYS = int(os.environ.get("REPORT_REVIEW_DAYS", "5"))

# --- Caches ---------------------------------------------------------------------------------
# API throttles and password-reset limits count in the cache. With REDIS_URL set it is Redis,
# shared by every gunicorn worker and machine (a per-process memory cache would multiply each
# limit by the number of workers); the counters use their own Redis database when
# CACHE_REDIS_URL names one. Without Redis: memory of one process, enough for `make run`.
CACHE_REDIS_URL = os.environ.get("CACHE_REDIS_URL", "") or os.environ.get("REDIS_URL", "")
# The "dashboard" cache holds the dashboard's rendered live part, keyed by its data
# fingerprint (reporting.views.dashboards): with Redis every web worker shares one render per
# change; without it each process renders its own.
if CACHE_REDIS_URL:
    _cache_prefix = os.environ.get("CACHE_KEY_PREFIX", "sla")
    CACHES = {
        name: {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": CACHE_REDIS_URL,
            "KEY_PREFIX": f"{_cache_prefix}-{name}" if name != "default" else _cache_prefix,
        }
        for name in ("default", "dashboard")
    }
else:
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
        "dashboard": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": "dashboard",
        },
    }

# --- Abuse limits ---------------------------------------------------------------------------
# Login throttling (django-axes, on /accounts/login/ and /admin/login/): after
# LOGIN_FAILURE_LIMIT failed attempts for one username from one address, that pair is refused
# for LOGIN_COOLOFF_MINUTES, correct password or not. Other users from the same address (an
# office behind one NAT) and the same user from elsewhere are unaffected; a successful login
# clears the count.
AXES_ENABLED = env_bool("LOGIN_THROTTLE", default=True)
AXES_FAILURE_LIMIT = int(os.environ.get("LOGIN_FAILURE_LIMIT", "10"))
AXES_COOLOFF_TIME = timedelta(minutes=int(os.environ.get("LOGIN_COOLOFF_MINUTES", "15")))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
# Further failures during a lockout do not extend it: the cool-off ends when promised.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
# Behind PROXY_COUNT trusted proxies (a load balancer) the client address is read from
# X-Forwarded-For (sla_portal.core.client_ip); with none, from the connection.
PROXY_COUNT = int(os.environ.get("PROXY_COUNT", "0"))
AXES_CLIENT_IP_CALLABLE = "sla_portal.core.client_ip.client_ip"
# Password-reset emails: at most this many per address and per client address an hour. Past
# that the page answers exactly as usual (nobody learns whether an account exists) and no
# email is sent.
PASSWORD_RESET_MAX_PER_ADDRESS = int(os.environ.get("PASSWORD_RESET_MAX_PER_ADDRESS", "3"))
PASSWORD_RESET_MAX_PER_IP = int(os.environ.get("PASSWORD_RESET_MAX_PER_IP", "20"))
# Status page subscriptions: at most this many requests per address and per client address
# an hour (each may send a confirmation email); past that the page answers 429.
STATUS_SUBSCRIBE_MAX_PER_ADDRESS = int(os.environ.get("STATUS_SUBSCRIBE_MAX_PER_ADDRESS", "3"))
STATUS_SUBSCRIBE_MAX_PER_IP = int(os.environ.get("STATUS_SUBSCRIBE_MAX_PER_IP", "20"))
# How long a subscription's confirmation link works.
STATUS_CONFIRM_MAX_AGE_SECONDS = int(os.environ.get("STATUS_CONFIRM_MAX_AGE_SECONDS", "172800"))
# How long browsers and shared caches may keep the public status page.
STATUS_PAGE_MAX_AGE_SECONDS = int(os.environ.get("STATUS_PAGE_MAX_AGE_SECONDS", "30"))
# JSON bodies (API, bulk ingest, webhooks): deeper nesting than this is refused with 400
# before it can exhaust the parser's stack; no real payload nests more than a few levels.
JSON_MAX_DEPTH = int(os.environ.get("JSON_MAX_DEPTH", "64"))
# The HTTP probe refuses private, loopback, link-local, unique-local and metadata addresses
# (checked after DNS resolution and again at every redirect) unless this is on: a probe that
# fetches any address lets whoever edits a service read the portal's internal network.
SLA_PROBE_ALLOW_PRIVATE = env_bool("SLA_PROBE_ALLOW_PRIVATE")

# --- Celery ---------------------------------------------------------------------------------
REDIS_URL = os.environ.get("REDIS_URL", "")

# "localhost" named, so that kombu does not warn "No hostname was supplied" on each connection.
CELERY_BROKER_URL = (
    os.environ.get("CELERY_BROKER_URL", "") or REDIS_URL or "filesystem://localhost//"
)
if CELERY_BROKER_URL.startswith("filesystem://"):
    # kombu's own filesystem transport lets a worker read a message before it is written,
    # which stops the worker for good; this one renames whole messages into place.
    CELERY_BROKER_TRANSPORT = "sla_portal.core.broker:Transport"
    # A broker that needs no server: messages are files under var/celery/.
    _celery_dir = VAR_DIR / "celery"
    for _folder in ("queue", "control"):
        (_celery_dir / _folder).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_celery_dir / "queue"),
        "data_folder_out": str(_celery_dir / "queue"),
        "control_folder": str(_celery_dir / "control"),
        "store_processed": False,
    }
CELERY_TASK_DEFAULT_QUEUE = os.environ.get("CELERY_QUEUE", "sla-portal")
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_IGNORE_RESULT = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Through a broker outage, however long: reconnect every second, and say so once when it
# starts and once when it ends (sla_portal.core.broker_reconnect). Celery's own back-off
# (2, 4, 6 … 30 s, giving up after 100 attempts) found Redis again up to 30 s late.
CELERY_BROKER_CONNECTION_MAX_RETRIES = None
CELERY_WORKER_CONSUMER = "sla_portal.core.broker_reconnect:Consumer"
# A task running when the broker connection is lost cannot be acknowledged any more and is
# delivered again after the return: stop it then (Celery 6's default; every task is
# idempotent) rather than let it finish work that will be repeated.
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = True
# django-celery-beat's DatabaseScheduler, with the same reconnection.
CELERY_BEAT_SCHEDULER = "sla_portal.core.broker_reconnect:DatabaseScheduler"
# Every periodic job, with why it exists. django-celery-beat copies these into its tables.
CELERY_BEAT_SCHEDULE = {
    # Proves to /healthz that a worker is consuming and the scheduler is ticking.
    "worker-heartbeat": {"task": "core.heartbeat", "schedule": 15.0},
    # Signed agreements go into force on their effective date (idempotent; a late run
    # still activates them with the right date in the trail).
    "activate-agreements": {"task": "agreements.activate_due", "schedule": 600.0},
    # Subscribers of status pages hear of maintenance windows coming in the next days, once
    # each (a unique notice per page and window makes a re-run send nothing).
    "status-maintenance-notices": {
        "task": "reporting.status_maintenance_notices",
        "schedule": 600.0,
    },
    # Reviews open on their due date.
    "start-due-reviews": {"task": "agreements.start_due_reviews", "schedule": 3600.0},
    # Review reminders ahead of the due date; each goes out once per review and recipient.
    "review-reminders": {"task": "agreements.send_review_reminders", "schedule": 3600.0},
    # Agreements past their end date expire.
    "expire-agreements": {"task": "agreements.expire_ended", "schedule": 3600.0},
    # The built-in HTTP probe. Each service's next probe time is a row in PostgreSQL, claimed
    # with a conditional UPDATE; this tick only looks for due rows, so a short period keeps
    # probes close to their interval and a missed tick (or a restart) loses nothing.
    "run-due-probes": {"task": "monitoring.run_due_probes", "schedule": 5.0},
    # (No deadline tick here: deadlines are claimed every second by `manage.py run_deadlines`,
    # a process that needs only the database, so they never wait behind this queue's work or
    # for the broker; see monitoring.evaluation.loop.)
    # Periods change as time passes (an outage still going on, a period that ends), not only
    # when data arrives; this recomputes open periods and closes the ended ones.
    "evaluate-periods": {
        "task": "monitoring.evaluate_periods",
        "schedule": 60.0,
        "options": {"expires": 120},
    },
    # Sources whose data stopped arriving: the provider hears "data stopped arriving" once per
    # stale episode and "arriving again" when it resumes. Silence is noticed only by looking
    # (no data comes to trigger anything), and the sweep reads the indexed Source.stale_at, so
    # a minute costs one small query.
    "stale-sources": {
        "task": "monitoring.check_stale_sources",
        "schedule": 60.0,
        "options": {"expires": 120},
    },
    # Periodic reports: a month's draft is made once all its period results are closed (periods
    # close within a minute of their end), and drafts past REPORT_REVIEW_DAYS are issued;
    # idempotent, so a late or repeated run issues nothing twice.
    "issue-reports": {
        "task": "reporting.issue_due_reports",
        "schedule": 300.0,
        "options": {"expires": 600},
    },
    # A recompute queues its next step from the one before; a step lost with the broker (a
    # flush, a restart without persistence) would leave the run waiting for ever. A run that
    # has not moved for ten minutes gets its step sent again (a step is safe to repeat).
    "recompute-resume-stalled": {
        "task": "reporting.recompute_resume_stalled",
        "schedule": 120.0,
        "options": {"expires": 240},
    },
    # Uploaded export files past their retention; the imported rows stay.
    "purge-import-files": {
        "task": "monitoring.purge_import_files",
        "schedule": crontab(hour=3, minute=30),
    },
    # The periodic NPS survey: the round due on each agreement's schedule goes to every contact
    # not asked yet (one Survey row per agreement, round and contact), so a repeated or late
    # run asks nobody twice.
    "nps-surveys": {
        "task": "monitoring.send_nps_surveys",
        "schedule": 3600.0,
        "options": {"expires": 1800},
    },
    # Warnings gathered for people who chose a daily digest instead of immediate emails.
    "alert-digests": {
        "task": "monitoring.send_alert_digests",
        "schedule": crontab(hour=7, minute=0),
    },
}
# Alerts whose moment lies further back than this (history imported late) are recorded on
# the alerts page but not emailed: nobody should be woken for last year's breaches.
SLA_ALERT_MAX_AGE_MINUTES = int(os.environ.get("SLA_ALERT_MAX_AGE_MINUTES", "1440"))
# A period-end forecast alerts ("predicted to miss / breach") only when at least this likely
# (0..1): a coin toss is shown on the dashboards but wakes nobody (docs/forecasts.md).
SLA_FORECAST_ALERT_CONFIDENCE = float(os.environ.get("SLA_FORECAST_ALERT_CONFIDENCE", "0.6"))
# Days a finished import job keeps its uploaded file (the imported rows stay for good).
SLA_IMPORT_FILE_RETENTION_DAYS = int(os.environ.get("SLA_IMPORT_FILE_RETENTION_DAYS", "30"))
# How long a source may stay silent before it is stale (monitoring.staleness), in minutes
# per source kind; a source's own "expected data interval" wins. Check feeds and the REST
# API send every few minutes. Ticket exports are quiet at night and at weekends. Alertmanager
# and Uptime Kuma's webhooks speak only when a state changes, so their silence is normal and
# they are never stale unless their source sets an interval (0: never). A probe of one
# service is stale after three missed rounds.
SLA_STALE_AFTER_MINUTES = {
    "default": int(os.environ.get("SLA_STALE_AFTER_MINUTES", "15")),
    "servicenow": 1440,
    "jira": 1440,
    "zammad": 1440,
    "alertmanager": 0,
    "uptime_kuma": 0,
}
# The probe loop: at most this many probes per tick, with this many HTTP calls at once.
PROBE_BATCH_SIZE = int(os.environ.get("PROBE_BATCH_SIZE", "200"))
PROBE_CONCURRENCY = int(os.environ.get("PROBE_CONCURRENCY", "8"))
# Days before a review that the managers and customer approvers are reminded.
REVIEW_REMINDER_DAYS = int(os.environ.get("REVIEW_REMINDER_DAYS", "14"))
# Bounds on the work of one run, so that no run holds a worker (or a tick) for long; the
# rest is done by the next run, queued at once. Each batch is evaluation.tickets.BATCH_SIZE
# (2,000) tickets, well under a second's work each.
# - The deadline loop (run_deadlines) evaluates at most this many batches of marked tickets
#   per tick after claiming what is due: a big ingest is worked off beside the deadlines
#   without delaying them by more than a batch.
DEADLINE_LOOP_MAX_BATCHES = int(os.environ.get("DEADLINE_LOOP_MAX_BATCHES", "1"))
# - monitoring.evaluate_changed evaluates at most this many batches per run, then queues
#   itself again (one outstanding at a time) when tickets remain.
EVALUATION_MAX_BATCHES_PER_RUN = int(os.environ.get("EVALUATION_MAX_BATCHES_PER_RUN", "5"))
# - monitoring.evaluate_periods recomputes at most this many agreements per run, then queues
#   itself again for the agreements after the last one it did.
PERIODS_MAX_AGREEMENTS_PER_RUN = int(os.environ.get("PERIODS_MAX_AGREEMENTS_PER_RUN", "20"))
# The Celery worker is healthy when its last heartbeat (sent every 15 s) is younger than
# this: three missed beats. The alerting path is judged faster, by the deadline loop's tick.
WORKER_HEARTBEAT_MAX_AGE_SECONDS = int(os.environ.get("WORKER_HEARTBEAT_MAX_AGE", "45"))

# --- API ------------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        # Per-user tokens stored hashed, with scopes and revocation (sla_portal.core.tokens).
        "sla_portal.core.tokens.ApiTokenAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    # drf-spectacular's, with read-only fields as stored (sla_portal.core.openapi).
    "DEFAULT_SCHEMA_CLASS": "sla_portal.core.openapi.PortalAutoSchema",
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    # JSON with a depth limit (JSON_MAX_DEPTH): 50,000 nested brackets are a 400, not a 500.
    "DEFAULT_PARSER_CLASSES": [
        "sla_portal.core.parsers.SafeJSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    # Rates per client (a user, or an address when anonymous), counted in the cache (Redis in
    # production, so shared by every worker). Ingest endpoints (bulk and webhooks) have their
    # own budget, so that a busy feed does not starve the same user's reads and vice versa.
    # A rate is "<n>/<second|minute|hour|day>"; "off" lifts that limit. 429 answers carry
    # Retry-After and a JSON body.
    "DEFAULT_THROTTLE_CLASSES": [
        "sla_portal.core.throttles.AnonRateThrottle",
        "sla_portal.core.throttles.UserRateThrottle",
        "sla_portal.core.throttles.IngestRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "anon": env_rate("API_THROTTLE_ANON", "60/minute"),
        "user": env_rate("API_THROTTLE_USER", "1200/minute"),
        "ingest": env_rate("API_THROTTLE_INGEST", "600/minute"),
    },
    # Behind a proxy, the client address is taken from X-Forwarded-For past this many proxies.
    "NUM_PROXIES": PROXY_COUNT or None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "SLA Portal API",
    "DESCRIPTION": (
        "Service level agreements, their targets and calendars, monitoring data and compliance. "
        "Authenticate with a session or with `Authorization: Token <key>`. Customer users only "
        "ever see their own organisation's data."
    ),
    "VERSION": "0.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # Swagger UI served from the vendored sidecar package: the portal needs no CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    # Deep links put a link inside each operation's expand button (nested controls that a
    # screen reader cannot reach, WCAG 4.1.2); the page reads better without them.
    # Its template and static/css/api-docs.css fix language, contrast and target sizes.
    # Syntax colouring of examples is off: its theme's colours fall below 4.5:1.
    "SWAGGER_UI_SETTINGS": {"deepLinking": False, "syntaxHighlight": {"activated": False}},
    "REDOC_DIST": "SIDECAR",
    # Named enums first (drf-spectacular's own hook), then the error answers every operation
    # can give and times as patterns (sla_portal.core.openapi).
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "sla_portal.core.openapi.document_errors",
    ],
    # Fee period and target period share one set of choices: name it once.
    "ENUM_NAME_OVERRIDES": {
        "PeriodEnum": "agreements.choices.Period",
        # A report's status (draft, issued) beside the agreement's, which keeps its name.
        "ReportStatusEnum": "reporting.models.Report.Status",
        "StatusEnum": "agreements.models.Agreement.Status",
        # A source and the answer of its creation (with the one-time secret) share its kinds.
        "SourceKindEnum": "monitoring.models.Source.Kind",
    },
}

# Keys that encrypt webhook signing secrets at rest (sla_portal.core.crypto): comma-separated
# Fernet keys, the newest first. Empty: a key derived from SECRET_KEY.
SLA_SECRET_KEYS = env_list("SLA_SECRET_KEYS")
# After a source's secret is rotated the old one still verifies this long, so senders can be
# switched over without losing deliveries.
SOURCE_SECRET_OVERLAP_HOURS = float(os.environ.get("SLA_SOURCE_SECRET_OVERLAP_HOURS", "24"))

CRISPY_ALLOWED_TEMPLATE_PACKS = "bootstrap5"
CRISPY_TEMPLATE_PACK = "bootstrap5"

# --- Security in production -----------------------------------------------------------------
# `manage.py check --deploy --fail-level WARNING` passes with DEBUG off and the defaults below
# (CI runs it). Each is an environment switch for a deployment that terminates TLS elsewhere
# or tries HSTS with a short max-age first.
if not DEBUG:
    SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", default=True)
    CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", default=True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_CONTENT_TYPE_NOSNIFF = True
    # Plain http is redirected to https (/healthz stays reachable on http for probes inside
    # the network); browsers remember to use https for a year.
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", default=True)
    SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
    SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", "31536000"))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
    # Preloading commits the whole domain, every subdomain included, to https in browsers'
    # built-in lists: the domain owner's decision, so opt-in (the deploy check's W021 says
    # only that it is off).
    SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", default=False)
    if not SECURE_HSTS_PRELOAD:
        SILENCED_SYSTEM_CHECKS = ["security.W021"]
X_FRAME_OPTIONS = "DENY"
SECURE_REFERRER_POLICY = "same-origin"

# Content-Security-Policy (django-csp): every script and style is a vendored file served by
# the portal itself, so nothing inline and nothing from elsewhere is needed. Images may be
# data: URIs (Bootstrap's form icons, Swagger UI's). CSP_REPORT_ONLY=1 sends the same policy
# as Content-Security-Policy-Report-Only, to try a change without breaking pages.
_CSP = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}
if env_bool("CSP_REPORT_ONLY"):
    CONTENT_SECURITY_POLICY_REPORT_ONLY = _CSP
else:
    CONTENT_SECURITY_POLICY = _CSP

LOG_LEVEL = os.environ.get("LOG_LEVEL", "INFO").upper()
# The request log: the development server's line per request (django.server) and Django's
# warning per 4xx and error per 5xx (django.request). `run_portal` (`make run`) sets ERROR, so
# the terminal speaks only when something is wrong.
REQUEST_LOG_LEVEL = os.environ.get("REQUEST_LOG_LEVEL", LOG_LEVEL).upper()
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"},
        "server": {
            "()": "django.utils.log.ServerFormatter",
            "format": "[{server_time}] {message}",
            "style": "{",
        },
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain"},
        "server": {"class": "logging.StreamHandler", "formatter": "server"},
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        # Django's own default sends these to a second console handler with DEBUG on, so
        # each traceback was printed twice; the root handler above is enough.
        "django": {"handlers": [], "level": LOG_LEVEL, "propagate": True},
        "django.server": {"handlers": ["server"], "level": REQUEST_LOG_LEVEL, "propagate": False},
        "django.request": {"level": REQUEST_LOG_LEVEL},
        "django.db.backends": {"level": "WARNING"},
        # Axes announces itself at start and each failed login at INFO; lockouts are WARNING.
        "axes": {"level": "WARNING"},
        # PDF rendering narrates every step at INFO.
        "weasyprint": {"level": "WARNING"},
        "fontTools": {"level": "WARNING"},
    },
}
