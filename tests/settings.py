"""The portal's own settings, with only what a test run needs on top."""

import os

# Tests run with DEBUG off, like production; they need a key but not a secret one.
os.environ.setdefault("SECRET_KEY", "test-only-key-not-secret")

from sla_portal.settings import *  # noqa: F403

# Hashing stays real in production; the suite creates hundreds of users.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STORAGES["staticfiles"]["BACKEND"] = "django.contrib.staticfiles.storage.StaticFilesStorage"  # noqa: F405
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True
