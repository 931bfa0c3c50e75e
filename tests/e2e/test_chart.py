"""The chart with the real helm: lint, render several value sets and validate each against the
local API server (server-side dry run: the OpenAPI schemas, strict field validation), refuse
misspelt values, install and upgrade into the local control plane (no pods run there, so the
objects are checked).

ServiceMonitor and PrometheusRule are validated against minimal copies of their CRDs
(tests/fixtures/monitoring/crds.yaml), since the local control plane has no prometheus-operator.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from chart_support import CHART as CHART_DIR
from chart_support import (
    CI_VALUES,
    MONITORING_CRDS,
    Helm,
    cluster_wide_reads_only_grants,
    helm_binary,
    of_kind,
)
from e2e_support import GRANTS, JSON, Kubectl, dump_docs

# It calls helm, which a fresh machine builds beside the first e2e tests (hack/test.sh).
pytestmark = pytest.mark.test_tools


@pytest.fixture(scope="module")
def helm(kubectl: Kubectl) -> Helm:
    return Helm(helm_binary(), kubectl.kubeconfig)


@pytest.fixture(scope="module")
def monitoring_crds(kubectl: Kubectl) -> None:
    kubectl.run("apply", "--server-side", "--force-conflicts", "-f", str(MONITORING_CRDS))
    kubectl.run(
        "wait",
        "--for=condition=Established",
        "--timeout=60s",
        "crd/servicemonitors.monitoring.coreos.com",
        "crd/prometheusrules.monitoring.coreos.com",
    )


@pytest.fixture(scope="module")
def scratch_namespaces(kubectl: Kubectl, crds: list[str]) -> Iterator[dict[str, str]]:
    """Real namespaces standing in for the names the value sets use (team-a, team-b and the
    release namespace), so the dry run sees namespaced objects where they would go."""
    suffix = uuid.uuid4().hex[:6]
    names = {n: f"chart-{n}-{suffix}" for n in ("team-a", "team-b", "sd-operator")}
    for name in names.values():
        kubectl.run("create", "namespace", name)
    yield names
    for name in names.values():
        kubectl.run("delete", "namespace", name, "--wait=false", check=False)


VALUE_SETS = sorted(p.name for p in CI_VALUES.glob("*-values.yaml"))


def test_lint_strict(helm: Helm) -> None:
    out = helm.run("lint", "--strict", str(CHART_DIR))
    assert "1 chart(s) linted, 0 chart(s) failed" in out.stdout


@pytest.mark.parametrize("values", ["(defaults)", *VALUE_SETS])
def test_value_set_renders_and_passes_server_validation(
    helm: Helm,
    kubectl: Kubectl,
    monitoring_crds: None,
    scratch_namespaces: dict[str, str],
    values: str,
) -> None:
    files = [] if values == "(defaults)" else [CI_VALUES / values]
    text = helm.template(namespace=scratch_namespaces["sd-operator"], values=files).stdout
    for plain, real in scratch_namespaces.items():
        text = text.replace(f"namespace: {plain}\n", f"namespace: {real}\n")
    docs = [d for d in yaml.safe_load_all(text) if d]
    assert of_kind(docs, "Deployment"), "no Deployment rendered"
    out = kubectl.run(
        "apply", "--dry-run=server", "--server-side", "-f", "-", stdin=dump_docs(docs)
    )
    assert out.returncode == 0


def test_namespaced_rbac_grants_nothing_cluster_wide_but_reading_grants(helm: Helm) -> None:
    docs = helm.render(values=[CI_VALUES / "namespaced-values.yaml"])
    assert cluster_wide_reads_only_grants(docs)
    roles = {d["metadata"]["namespace"]: d for d in of_kind(docs, "Role")}
    assert sorted(roles) == ["team-a", "team-b"]
    bindings = {d["metadata"]["namespace"] for d in of_kind(docs, "RoleBinding")}
    assert bindings == {"team-a", "team-b"}
    for role in roles.values():
        granted = {r for rule in role["rules"] for r in rule["resources"]}
        assert "namespaces" not in granted


def test_namespaced_rbac_reads_only_kube_system_itself_for_the_cluster_id() -> None:
    """Without clusterId the operator reads kube-system's UID: a Role in kube-system granting get
    on that one Namespace object, nothing cluster-wide; with clusterId, nothing there."""
    helm = Helm(helm_binary())
    scoped = ["allNamespaces=false", "watchNamespaces={team-a}"]
    docs = helm.render(sets=scoped)
    assert cluster_wide_reads_only_grants(docs)
    roles = {d["metadata"]["namespace"]: d for d in of_kind(docs, "Role")}
    assert roles["kube-system"]["rules"] == [
        {
            "apiGroups": [""],
            "resources": ["namespaces"],
            "resourceNames": ["kube-system"],
            "verbs": ["get"],
        }
    ]
    (binding,) = [
        d for d in of_kind(docs, "RoleBinding") if d["metadata"]["namespace"] == "kube-system"
    ]
    assert binding["roleRef"]["name"] == roles["kube-system"]["metadata"]["name"]

    given = helm.render(sets=[*scoped, "clusterId=6f1c2a9e"])
    assert "kube-system" not in {d["metadata"].get("namespace") for d in given}
    (deployment,) = of_kind(given, "Deployment")
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    assert "--cluster-id=6f1c2a9e" in container["args"]


def test_cluster_wide_rbac_when_all_namespaces(helm: Helm) -> None:
    docs = helm.render()
    (role,) = of_kind(docs, "ClusterRole")
    granted = {r for rule in role["rules"] for r in rule["resources"]}
    assert {"namespaces", "cloudmapnamespaces", "servicediscoveries/status"} <= granted
    assert of_kind(docs, "Role") == []


def test_disruption_budget_spread_and_probes_render(helm: Helm) -> None:
    docs = helm.render(values=[CI_VALUES / "peered-values.yaml"])
    (pdb,) = of_kind(docs, "PodDisruptionBudget")
    assert pdb["spec"]["minAvailable"] == 2
    assert "maxUnavailable" not in pdb["spec"]
    (deployment,) = of_kind(docs, "Deployment")
    pod = deployment["spec"]["template"]["spec"]
    labels = deployment["spec"]["selector"]["matchLabels"]
    required = pod["affinity"]["podAntiAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
    assert required[0]["labelSelector"]["matchLabels"] == labels
    (spread,) = pod["topologySpreadConstraints"]
    assert spread["labelSelector"]["matchLabels"] == labels
    (container,) = pod["containers"]
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "metrics"}
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "health"}
    assert "--metrics-bind-address=0.0.0.0" in container["args"]
    assert "--metrics-port=9090" in container["args"]


@pytest.mark.parametrize(
    ("sets", "seconds"),
    [
        ([], "60"),
        (["sweepSeconds=15"], "15"),
        # A values file written for an older chart keeps its interval under the deprecated name.
        (["resyncSeconds=20"], "20"),
        (["sweepSeconds=15", "resyncSeconds=20"], "20"),
    ],
    ids=["default", "sweepSeconds", "deprecated-resyncSeconds", "resyncSeconds-wins"],
)
def test_sweep_interval_renders_from_sweep_seconds_or_its_deprecated_name(
    helm: Helm, sets: list[str], seconds: str
) -> None:
    (deployment,) = of_kind(helm.render(sets=sets), "Deployment")
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    assert f"--sweep-seconds={seconds}" in container["args"]
    assert not [a for a in container["args"] if a.startswith("--resync-seconds")]


def test_monitoring_objects_render_behind_values(helm: Helm) -> None:
    assert not of_kind(helm.render(), "ServiceMonitor")
    docs = helm.render(values=[CI_VALUES / "monitoring-values.yaml"])
    (monitor,) = of_kind(docs, "ServiceMonitor")
    (service,) = of_kind(docs, "Service")
    selector = monitor["spec"]["selector"]["matchLabels"]
    assert selector.items() <= service["metadata"]["labels"].items()
    assert monitor["spec"]["endpoints"][0]["port"] == service["spec"]["ports"][0]["name"]
    (rule,) = of_kind(docs, "PrometheusRule")
    alerts = {r["alert"] for g in rule["spec"]["groups"] for r in g["rules"]}
    assert {"SdOperatorReconcileErrors", "SdOperatorTerminalResources"} <= alerts
    dashboards = [
        d for d in of_kind(docs, "ConfigMap") if d["metadata"]["name"].endswith("-dashboard")
    ]
    (dashboard,) = dashboards
    assert dashboard["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert json.loads(dashboard["data"]["sd-operator.json"])["uid"] == "sd-operator"


@pytest.mark.parametrize(
    ("setting", "where"),
    [
        ("replica=2", "additional properties 'replica' not allowed"),
        ("serviceAccount.anotations.a=b", "/serviceAccount"),
        ("reources.limits.cpu=1", "additional properties 'reources' not allowed"),
        ("resources.limits.cpus=1", "/resources/limits"),
        ("securityContext.runAsUsr=1", "/securityContext"),
        ("podSecurityContext.fsgroup=1", "/podSecurityContext"),
        ("metrics.serviceMonitor.enabeld=true", "/metrics/serviceMonitor"),
        ("podDisruptionBudget.minAvaliable=1", "/podDisruptionBudget"),
        ("readinessProbe.periodSecond=5", "/readinessProbe"),
    ],
)
def test_misspelt_value_is_refused(helm: Helm, setting: str, where: str) -> None:
    out = helm.template(sets=[setting], check=False)
    assert out.returncode != 0, f"--set {setting} was accepted:\n{out.stdout[:400]}"
    assert "schema" in out.stderr
    assert where in out.stderr, out.stderr


def test_install_and_upgrade_into_the_control_plane(
    helm: Helm, kubectl: Kubectl, crds: list[str], tmp_path: Path
) -> None:
    suffix = uuid.uuid4().hex[:6]
    release_ns, watched = f"chart-rel-{suffix}", f"chart-watched-{suffix}"
    kubectl.run("create", "namespace", watched)
    release = f"sd-operator-{suffix}"  # contains the chart name: the full name is the release
    values = tmp_path / "values.yaml"
    values.write_text(
        yaml.safe_dump(
            {"allNamespaces": False, "watchNamespaces": [watched], "region": "us-east-1"}
        )
    )
    try:
        helm.run(
            "install",
            release,
            str(CHART_DIR),
            "-n",
            release_ns,
            "--create-namespace",
            "--values",
            str(values),
        )
        deployment = _get(kubectl, "deployment", release, release_ns)
        assert deployment["spec"]["replicas"] == 1
        assert deployment["spec"]["strategy"]["type"] == "Recreate"
        assert "--standalone" in deployment["spec"]["template"]["spec"]["containers"][0]["args"]
        assert _get(kubectl, "serviceaccount", release, release_ns)
        assert _get(kubectl, "role", release, watched)
        assert _get(kubectl, "rolebinding", release, watched)
        assert kubectl.get("clusterrole", release) is None
        # A fresh install enforces grants and renders none: nothing is allowed until one exists.
        assert kubectl.get(GRANTS, f"{release}-allow-all") is None

        upgrade = ["upgrade", release, str(CHART_DIR), "-n", release_ns, "--values", str(values)]
        upgrade += ["--set", "replicas=2", "--set", "podDisruptionBudget.enabled=true"]
        # An upgrade that does not choose a grants mode is refused, saying what to choose, so
        # it never silently stalls what the release manages.
        refused = helm.run(*upgrade, check=False)
        assert refused.returncode != 0
        assert "grants.mode=allowAll" in refused.stderr, refused.stderr
        assert "grants.mode=enforce" in refused.stderr, refused.stderr
        assert _get(kubectl, "deployment", release, release_ns)["spec"]["replicas"] == 1

        helm.run(*upgrade, "--set", "grants.mode=allowAll")
        grant = kubectl.get(GRANTS, f"{release}-allow-all")
        assert grant is not None
        assert grant["spec"]["namespaces"] == {"names": [watched]}
        assert grant["spec"]["ecs"] == [{"cluster": "*", "services": ["*"]}]
        deployment = _get(kubectl, "deployment", release, release_ns)
        assert deployment["spec"]["replicas"] == 2
        args = deployment["spec"]["template"]["spec"]["containers"][0]["args"]
        assert f"--peering={release}" in args
        assert _get(kubectl, "kopfpeerings.kopf.dev", release, watched)
        assert _get(kubectl, "poddisruptionbudget", release, release_ns)
        status = json.loads(helm.run("status", release, "-n", release_ns, "-o", "json").stdout)
        assert status["version"] == 2
        assert status["info"]["status"] == "deployed"
    finally:
        helm.run("uninstall", release, "-n", release_ns, check=False)
        for ns in (release_ns, watched):
            kubectl.run("delete", "namespace", ns, "--wait=false", check=False)
    assert kubectl.get("deployment", release, release_ns) is None
    assert kubectl.get(GRANTS, f"{release}-allow-all") is None


def _get(kubectl: Kubectl, kind: str, name: str, namespace: str) -> JSON:
    obj = kubectl.get(kind, name, namespace)
    assert obj is not None, f"{kind} {namespace}/{name} is missing"
    return obj


@pytest.mark.parametrize(
    ("values", "endpointslices", "services", "flags"),
    [
        ("(defaults)", {"get", "list", "watch", "create", "patch", "update", "delete"}, True, []),
        ("export-only-values.yaml", {"get", "list", "watch"}, False, ["--no-import"]),
        ("hybrid-off-values.yaml", set(), False, ["--no-import", "--no-export"]),
        (
            "import-limited-values.yaml",
            {"get", "list", "watch", "create", "patch", "update", "delete"},
            True,
            [
                "--import-from-namespaces=shared.local,team-a-*",
                "--import-exclude-cidrs=10.96.0.0/12,10.244.0.0/16",
                "--no-export",
            ],
        ),
    ],
)
def test_hybrid_values_grant_and_pass_only_what_each_direction_needs(
    helm: Helm, values: str, endpointslices: set[str], services: bool, flags: list[str]
) -> None:
    docs = helm.render(values=[] if values == "(defaults)" else [CI_VALUES / values])
    (role,) = of_kind(docs, "ClusterRole")
    verbs: dict[str, set[str]] = {}
    for rule in role["rules"]:
        for resource in rule["resources"]:
            verbs.setdefault(resource, set()).update(rule["verbs"])
    assert verbs.get("endpointslices", set()) == endpointslices
    assert ("services" in verbs) is services
    (deployment,) = of_kind(docs, "Deployment")
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    hybrid = [a for a in container["args"] if a.startswith(("--import", "--no-", "--export"))]
    assert hybrid == flags
