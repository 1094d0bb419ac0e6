"""`make run`'s embedded defaults: every page a demo user can reach answers on SQLite.

The rest of the suite runs on PostgreSQL, where several reads are written in its own SQL
(``LATERAL``, arrays, ``jsonb`` functions). The demo a newcomer starts with `make run` runs on
SQLite, so here a fresh SQLite file (a copy of the run's migrated one, tests/support/portal.py)
is seeded as `make run` does, and each demo user walks every link the pages offer (GET only,
as far as the links go): none may answer 5xx.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.portal import migrated_and_seeded, portal_env

ROOT = Path(__file__).resolve().parents[1]

# Run inside the portal's own environment (SQLite under var_dir, DEBUG and demo mode on).
WALK = r"""
import collections, json, re, sys
import django
django.setup()
from django.test import Client
from django.test.utils import setup_test_environment
from sla_portal.core.demo import DEMO_PASSWORD

setup_test_environment()
status_path, usernames = sys.argv[1], sys.argv[2:]
SKIP = re.compile(r"/logout|\.(pdf|csv|yaml)$|/export|/pdf/|/csv/|^/static/|^/api/schema")
found = {}
# The public status page: no login.
anonymous = Client(raise_request_exception=False).get(status_path)
found["status"] = anonymous.status_code
for username in usernames:
    client = Client(raise_request_exception=False)
    assert client.login(username=username, password=DEMO_PASSWORD), username
    queue = collections.deque(["/", "/dashboard/", "/dashboard/live/"])
    seen = set()
    while queue and len(seen) < 150:
        url = queue.popleft()
        if url in seen or SKIP.search(url):
            continue
        seen.add(url)
        response = client.get(url, follow=True)
        if response.status_code >= 500:
            found.setdefault(username, []).append([url, response.status_code])
        if "text/html" in response.get("Content-Type", ""):
            for href in re.findall(r'href="(/[^"#]*)"', response.content.decode()):
                queue.append(href.replace("&amp;", "&"))
    found.setdefault(username, [])
    found[username + ":visited"] = len(seen)
print(json.dumps(found))
"""


@pytest.mark.slow
def test_every_demo_page_answers_on_the_embedded_sqlite(tmp_path, migrated_sqlite):
    env = portal_env(tmp_path, 8000)
    seeded = migrated_and_seeded(migrated_sqlite, env)
    # seed_demo prints the link of Acme's public status page.
    status_path = re.search(r"http://[^/\s]+(/status/[^\s]+)", seeded).group(1)
    users = ["manager", "team", "acme-approver", "acme-viewer", "globex-viewer"]
    walked = subprocess.run(
        [sys.executable, "-c", WALK, status_path, *users],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
        timeout=600,
    )
    result = json.loads(walked.stdout.strip().splitlines()[-1])
    for username in users:
        # Each walk went beyond the first pages: the customers' dashboards, agreements,
        # service check histories and the provider's monitoring pages were reached.
        assert result[f"{username}:visited"] >= 10, result
        assert result[username] == [], (username, result[username], walked.stderr[-3000:])
    assert result["status"] == 200, walked.stderr[-3000:]
