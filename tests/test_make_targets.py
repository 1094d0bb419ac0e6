"""`make test` on a fresh machine: `make test-deps` installs what the tests need, or says how.

As root with apt-get the target installs the missing packages itself (that path is what CI
and a fresh container take). These tests drive the other path, a normal user, which must
stop with the one command to run; they never install anything.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SYSTEM_PYTHON = "/usr/bin/python3"


@pytest.fixture
def project() -> Iterator[Path]:
    """A copy of the Makefile in a folder any user can read, with its own bin folder."""
    folder = Path(tempfile.mkdtemp(prefix="sla-make-"))
    folder.chmod(0o755)
    shutil.copy(ROOT / "Makefile", folder / "Makefile")
    (folder / "bin").mkdir()
    (folder / "bin").chmod(0o755)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def link_tools(project: Path, *names: str) -> str:
    """A PATH holding only these tools, so that the others count as not installed."""
    for name in names:
        found = shutil.which(name)
        if found:
            (project / "bin" / name).symlink_to(found)
    return str(project / "bin")


def make_test_deps(project: Path, **env: str) -> subprocess.CompletedProcess:
    command = ["/usr/bin/make", "-s", "test-deps", f"PYTHON={SYSTEM_PYTHON}"]
    if os.geteuid() == 0:
        # As a normal user: root would install the packages instead.
        setpriv = shutil.which("setpriv")
        if not setpriv:
            pytest.skip("needs setpriv to run make as a normal user")
        command = [setpriv, "--reuid", "65534", "--regid", "65534", "--clear-groups", *command]
    return subprocess.run(
        command,
        cwd=project,
        env={"HOME": str(project), "PATH": os.environ["PATH"], **env},
        capture_output=True,
        text=True,
    )


@pytest.fixture(autouse=True)
def _needs_a_system_python() -> None:
    if not Path(SYSTEM_PYTHON).exists():
        pytest.skip(f"needs {SYSTEM_PYTHON}")


def test_nothing_to_do_when_everything_is_installed(project):
    result = make_test_deps(project)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "" and result.stderr == ""


def test_without_chromium_a_normal_user_gets_the_one_command(project):
    result = make_test_deps(project, CHROMIUM_PATH=str(project / "no-chromium"))
    assert result.returncode != 0
    assert "    sudo apt-get install -y chromium\n" in result.stderr
    assert "CHROMIUM_PATH=" in result.stderr


def test_npm_tools_are_asked_for_when_package_json_lists_them(project):
    (project / "package.json").write_text('{"devDependencies": {"axe-core": "4.14.1"}}')
    path = link_tools(project, "id", "pdftoppm")  # no npm on this PATH
    result = make_test_deps(project, PATH=path)
    assert result.returncode != 0
    assert "sudo apt-get install -y npm" in result.stderr

    # Once node_modules holds axe-core, npm is not needed at all.
    (project / "node_modules" / "axe-core").mkdir(parents=True)
    result = make_test_deps(project, PATH=path)
    assert result.returncode == 0, result.stderr
