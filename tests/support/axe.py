"""axe-core inside the real browser: every page state a journey visits meets WCAG 2.2 AA.

axe-core comes from npm (``package.json`` at the top, installed by ``make test``) and is
injected into the page under test; its report is turned into one readable assertion message
(rule, impact, the elements and what to fix), so a failing run says what to change.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import pytest

AXE_JS = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"

# WCAG 2.0, 2.1 and 2.2 at levels A and AA, as the issue asks; best practices are advice.
WCAG_AA_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22a", "wcag22aa"]


@cache
def _axe_source() -> str:
    if not AXE_JS.exists():
        pytest.fail(
            f"axe-core is not installed ({AXE_JS} is missing): run `npm ci` at the top of the "
            "repository (make test does it)"
        )
    return AXE_JS.read_text(encoding="utf-8")


def axe_violations(page, *, exclude: list[str] | None = None) -> list[dict]:
    """Run axe-core on the page as it is now and return its violations (WCAG 2.2 A and AA)."""
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        # Evaluated through the browser's debugging protocol, which the page's
        # Content-Security-Policy does not govern (an inline <script> tag would be refused).
        page.evaluate(_axe_source() + "\n;undefined")
    context = {"exclude": [[selector] for selector in exclude]} if exclude else None
    return page.evaluate(
        """async ([context, tags]) => {
            // Judge the settled page: a colour still in its transition (a button just
            // clicked) is neither its state before nor after. Finite animations only, at
            // most a second (a spinner never finishes).
            const running = document.getAnimations().filter(
                a => a.effect && a.effect.getComputedTiming().endTime !== Infinity);
            await Promise.race([
                Promise.all(running.map(a => a.finished.catch(() => null))),
                new Promise(done => setTimeout(done, 1000)),
            ]);
            const options = {runOnly: {type: 'tag', values: tags}, resultTypes: ['violations']};
            const result = context ? await axe.run(context, options)
                                   : await axe.run(document, options);
            return result.violations.map(v => ({
                id: v.id, impact: v.impact, help: v.help, helpUrl: v.helpUrl,
                nodes: v.nodes.map(n => ({target: n.target.join(' '),
                                          summary: n.failureSummary})),
            }));
        }""",
        [context, WCAG_AA_TAGS],
    )


def format_violations(violations: list[dict]) -> str:
    lines = []
    for violation in violations:
        lines.append(f"- {violation['id']} ({violation['impact']}): {violation['help']}")
        for node in violation["nodes"][:8]:
            summary = " ".join((node["summary"] or "").split())
            lines.append(f"    {node['target']}: {summary[:300]}")
        if len(violation["nodes"]) > 8:
            lines.append(f"    … and {len(violation['nodes']) - 8} more elements")
    return "\n".join(lines)


def assert_no_axe_violations(page, state: str = "", *, exclude: list[str] | None = None) -> None:
    """Fail with a readable list when the page, in its current state, violates WCAG 2.2 AA.

    ``state`` names the page state in the message (e.g. "editor with errors");
    ``exclude`` takes CSS selectors of third-party widgets that are not ours to fix.
    """
    violations = axe_violations(page, exclude=exclude)
    where = f"{state} ({page.url})" if state else page.url
    assert not violations, f"axe-core: WCAG 2.2 AA violations on {where}:\n" + format_violations(
        violations
    )


__all__ = ["assert_no_axe_violations", "axe_violations", "format_violations"]
