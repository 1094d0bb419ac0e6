"""The portal's own settings, with only what a test run needs on top."""

import os

# Tests run with DEBUG off, like production; they need a key but not a secret one. This key is
# refused by sla_portal.settings anywhere but under tests.settings (core.secret_key).
os.environ.setdefault("SECRET_KEY", "test-only-key-not-secret")

from sla_portal.settings import *  # noqa: F403

# Hashing stays real in production; the suite creates hundreds of users.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STORAGES["staticfiles"]["BACKEND"] = "django.contrib.staticfiles.storage.StaticFilesStorage"  # noqa: F405
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True

# The test client and the browser talk plain http to the test server: no https redirect.
# HSTS, secure cookies and the CSP stay on, as in production.
SECURE_SSL_REDIRECT = False
# The suite sends thousands of API requests from one address: no API rate limits, except in
# the throttle tests, which set low rates with override_settings.
REST_FRAMEWORK = {
    **REST_FRAMEWORK,  # noqa: F405
    "DEFAULT_THROTTLE_RATES": {"anon": None, "user": None, "ingest": None},
}
# Counters (throttles, reset-email limits) in this process's memory, emptied before each test
# (tests/conftest.py): the Redis database of a test run is also its Celery broker, which a
# per-test clear would empty.
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    "dashboard": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "dash"},
}

# /healthz is computed afresh on every request, so a test sees the state it just made; the
# cache itself is tested with its production value (tests/test_health.py).
HEALTH_CACHE_SECONDS = 0
