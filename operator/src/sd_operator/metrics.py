"""Prometheus metrics: one name per concept, labelled by resource kind."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

RECONCILES = Counter(
    "sd_operator_reconciles_total", "Reconcile steps by kind and outcome", ["kind", "outcome"]
)
AWS_CHANGES = Counter("sd_operator_aws_changes_total", "Changes made in AWS", ["kind"])
DRIFT = Counter(
    "sd_operator_drift_detected_total", "Fields found changed outside the operator", ["kind"]
)
STEP_SECONDS = Histogram(
    "sd_operator_reconcile_seconds", "Duration of one reconcile step", ["kind"]
)
