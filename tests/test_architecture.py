"""The house plan (docs/architecture.md) holds: the rules import-linter cannot express.

import-linter (`lint-imports`, run by `.ci/run` and `make lint`) checks the direction of imports.
These tests check the shape of the rooms: every app splits its HTTP layer the same way, no
layer hides in a prefixed or suffixed flat file, and no module grows past one sitting.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
APPS = ("sla_portal/core", "agreements", "monitoring", "reporting")

# The HTTP layer: a package in every app, its modules named for the area they serve.
HTTP_PACKAGES = ("views", "api", "serializers")
LAYER_NAMES = ("views", "api", "serializers", "forms", "filters", "selectors", "services")

# A module longer than this does not read in one sitting. The exceptions are single cohesive
# algorithms where a split would scatter one idea over several files.
MAX_LINES = 500
LONG_ON_PURPOSE = {
    # The business-time clock: one calendar type and the arithmetic over it.
    "agreements/clock.py",
}


def _modules(app: str) -> list[Path]:
    return sorted(
        path
        for path in (ROOT / app).rglob("*.py")
        if "migrations" not in path.parts and "management" not in path.parts
    )


@pytest.mark.parametrize("app", APPS)
def test_every_app_holds_its_http_layer_in_layer_packages(app):
    for layer in HTTP_PACKAGES:
        package = ROOT / app / layer
        assert (package / "__init__.py").is_file(), f"{app}/{layer}/ is not a package"
        assert not (ROOT / app / f"{layer}.py").exists(), f"{app}/{layer}.py beside the package"
        areas = [p for p in package.glob("*.py") if p.name != "__init__.py"]
        assert areas, f"{app}/{layer}/ has no area module"


@pytest.mark.parametrize("app", APPS)
def test_no_layer_hides_in_a_prefixed_or_suffixed_flat_file(app):
    pattern = re.compile(r"^(?:(?:{0})_\w+|\w+_(?:{0}))\.py$".format("|".join(LAYER_NAMES)))
    offenders = [str(p.relative_to(ROOT)) for p in _modules(app) if pattern.match(p.name)]
    assert offenders == []


@pytest.mark.parametrize("app", APPS)
def test_modules_read_in_one_sitting(app):
    too_long = {
        str(path.relative_to(ROOT)): n
        for path in _modules(app)
        if (n := len(path.read_text().splitlines())) > MAX_LINES
        and str(path.relative_to(ROOT)) not in LONG_ON_PURPOSE
    }
    assert too_long == {}


def test_import_contracts_are_kept():
    """The same check as CI's `lint-imports`, so `make test` alone also guards the plan."""
    result = subprocess.run(
        [str(Path(sys.executable).with_name("lint-imports")), "--no-cache"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-4000:]


@pytest.mark.parametrize("app", APPS)
def test_area_packages_hold_no_second_services_or_selectors_room(app):
    """An area package holds domain code; its writes and reads live in the app's one
    ``services``/``selectors`` room (``services/<area>.py``), not in a room of its own."""
    offenders = {
        str(path.relative_to(ROOT))
        for path in _modules(app)
        if path.stem in LAYER_NAMES
        and path.parent != ROOT / app
        and path.parent.name not in LAYER_NAMES
    }
    assert offenders == set()


def test_status_bars_are_pure_arithmetic():
    contracts = (ROOT / "pyproject.toml").read_text()
    assert '"reporting.status_bars",' in contracts
