"""Whether a SECRET_KEY is strong enough to run with DEBUG off (no Django import: settings.py
calls this before Django is set up)."""

from __future__ import annotations

# Keys published in this repository, its examples and Django's own starting template.
KNOWN_KEYS = frozenset(
    {
        "insecure-development-key-only-used-with-debug",
        "change-me-in-production-please-0123456789",
        "bench-only-not-secret",
        "changeme",
        "secret",
    }
)
# The test suite's key: allowed only when the settings module is the tests' own.
TEST_KEY = "test-only-key-not-secret"
TEST_SETTINGS_MODULE = "tests.settings"
# Django's own deploy check (security.W009) asks for the same.
MIN_LENGTH = 50
MIN_UNIQUE_CHARACTERS = 5


def secret_key_problem(key: str, *, settings_module: str = "") -> str:
    """Why ``key`` must not sign sessions in production, or ``""`` when it may."""
    if key == TEST_KEY and settings_module == TEST_SETTINGS_MODULE:
        return ""
    if key in KNOWN_KEYS or key == TEST_KEY or key.startswith("django-insecure"):
        return "it is a published default"
    if len(key) < MIN_LENGTH:
        return f"{len(key)} characters, fewer than {MIN_LENGTH}"
    if len(set(key)) < MIN_UNIQUE_CHARACTERS:
        return f"fewer than {MIN_UNIQUE_CHARACTERS} different characters"
    return ""
