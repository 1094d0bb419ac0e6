"""Sloth specs to target specs: every Sloth SLO is an error ratio, so an availability target
(docs/openslo.md). A part of :mod:`agreements.openslo.converting`, apart for its length."""

from __future__ import annotations

from typing import Any

from agreements.openslo.checker import SLOTH_K8S, show, to_decimal
from agreements.smart import TargetSpec


def convert_sloth(self: Any) -> None:
    """One Sloth spec (its own format or the Kubernetes PrometheusServiceLevel) to availability
    targets; ``self`` is the :class:`agreements.openslo.converting.Converter` of the object."""
    k8s = self.summary.api_version == SLOTH_K8S
    spec = self.obj["spec"] if k8s else self.obj
    prefix = "spec." if k8s else ""
    service = spec["service"]
    self.note(
        f"{prefix}slos",
        "sloth-period",
        "Sloth measures over a rolling 30 days unless told otherwise: the targets are "
        "measured per calendar month, the nearest period the portal has.",
    )
    if spec.get("labels"):
        self.note(f"{prefix}labels", "labels", "The labels are not kept on the targets.")
    for i, slo in enumerate(spec["slos"]):
        path = f"{prefix}slos[{i}]"
        for dropped, said in (("description", "description is"), ("labels", "labels are")):
            if slo.get(dropped):
                self.note(f"{path}.{dropped}", dropped, f"The {said} not kept on the target.")
        objective = to_decimal(slo["objective"])
        percent = self.portal_decimal(objective, f"{path}.objective")
        if percent is None:
            continue
        self.note(
            f"{path}.objective",
            "sloth-percent",
            f"Sloth objectives are percentages: {objective} is kept as {objective} % "
            "(OpenSLO would write the ratio "
            f"{show(objective / 100)}).",
        )
        kind = next(k for k in ("events", "raw", "plugin") if k in slo["sli"])
        self.note(
            f"{path}.sli.{kind}",
            "measured-by-portal",
            f"Read as an availability target: Sloth's {kind} SLI (an error ratio) is "
            "measured by the portal as the share of the period without outages, from its "
            "uptime checks; the queries are not kept.",
        )
        said = f"{slo['name']} {slo.get('description') or ''}".lower()
        if "latency" in said or "slow" in said:
            # Sloth has no latency SLI of its own: a latency SLO is an error ratio (slow
            # requests over all requests) whose threshold lives in the query.
            self.note(
                path,
                "latency-as-availability",
                "This SLO is about latency, but Sloth states it as a ratio of slow "
                "requests: it becomes an availability target, not a response time (the "
                "latency threshold is in the query, which is not kept). Add a performance "
                "target in the draft to promise a response time.",
            )
        if slo.get("alerting"):
            self.note(
                f"{path}.alerting",
                "alerts-not-imported",
                "Sloth's alerting is not imported: the portal warns at each target's "
                "warning level and alerts on breaches.",
            )
        target = TargetSpec(
            metric="availability",
            target_value=percent,
            threshold_value=self.threshold(percent, path, " %"),
            unit="percent",
            direction="higher",
            period="month",
            data_source="uptime",
            name=self.shortened(str(slo["name"]), f"{path}.name"),
            **self.common_extras(),
        )
        self.add(target, path, service)
