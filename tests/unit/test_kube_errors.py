"""A failed Kubernetes API call reaches the CLI's user as one KubeError line: what was being
done, the HTTP status when there was one, and the reason."""

from __future__ import annotations

from typing import NoReturn

import pytest
from kubernetes.client.exceptions import ApiException  # type: ignore[import-untyped]

from sd_operator import kube
from sd_operator.cli.from_cluster import _cluster_grants
from sd_operator.model.spec import KIND_DISCOVERY


class _Refusing:
    """Every call of every API group fails with `error`."""

    def __init__(self, error: Exception) -> None:
        self.error = error

    def __getattr__(self, name: str) -> object:
        def refuse(*args: object, **kwargs: object) -> NoReturn:
            raise self.error

        return refuse


def _cluster(error: Exception) -> kube.Cluster:
    refusing = _Refusing(error)
    return kube.Cluster(refusing, refusing, refusing, "default")


def test_an_api_refusal_names_the_request_and_its_status() -> None:
    error = ApiException(status=403, reason="Forbidden")
    with pytest.raises(kube.KubeError) as raised:
        kube.list_resources(_cluster(error), "team-a")

    assert str(raised.value) == "listing cloudmapnamespaces: HTTP 403 Forbidden"
    assert raised.value.__cause__ is error


def test_a_connection_failure_says_what_it_was_reading() -> None:
    cluster = _cluster(ConnectionRefusedError("connection refused"))

    with pytest.raises(
        kube.KubeError,
        match=r"^reading namespace kube-system \(the cluster's id\): connection refused$",
    ):
        kube.cluster_id(cluster)
    with pytest.raises(kube.KubeError, match=r"^annotating servicediscoveries team-a/web: "):
        kube.request_refresh(cluster, KIND_DISCOVERY, "team-a", "web", "now")
    with pytest.raises(kube.KubeError, match=r"^listing the operator's Deployments: "):
        kube.operator_cluster_ids(cluster)


def test_plan_from_cluster_without_the_right_to_list_grants_plans_without_them(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A team's Role usually reads only its own namespace: the cluster-scoped grants stay
    unread, and the plan says so rather than failing or claiming it checked them."""
    assert _cluster_grants(_cluster(ApiException(status=403, reason="Forbidden"))) is None
    err = capsys.readouterr().err
    assert "the cluster's DiscoveryGrants were not read (listing discoverygrants: HTTP 403" in err
    assert "--grants FILE" in err
