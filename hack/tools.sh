#!/usr/bin/env bash
# Print the path of a development tool, building and caching it first if needed.
#
#   hack/tools.sh helm            helm v3 built from Go modules (HELM_VERSION, see hack/lib.sh)
#   hack/tools.sh kubectl         /usr/bin/kubectl if present (or $KUBECTL), else built from k8s.io/kubernetes
#   hack/tools.sh kube-apiserver  kube-apiserver built from k8s.io/kubernetes (KUBE_VERSION)
#   hack/tools.sh etcd            etcd built from go.etcd.io/etcd/server/v3 (ETCD_VERSION)
#   hack/tools.sh kstatus         hack/kstatus (sigs.k8s.io/cli-utils kstatus verdicts, for tests)
#   hack/tools.sh control-plane   etcd, kube-apiserver and kubectl (what the e2e layer starts)
#   hack/tools.sh test-tools      helm and kstatus (what a few e2e tests call)
#   hack/tools.sh all             all of the above, one path a line
#
# Binaries are cached in ${SD_OPERATOR_CACHE:-~/.cache/sd-operator}/bin, keyed
# by version; progress goes to stderr, the path to stdout, e.g.
#   HELM=$(hack/tools.sh helm)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=hack/lib.sh
source "$ROOT/hack/lib.sh"

control_plane_tools() { ensure_etcd; ensure_kube_apiserver; ensure_kubectl; }
test_tools() { ensure_helm; ensure_kstatus; }

case "${1:-}" in
  helm) ensure_helm ;;
  kubectl) ensure_kubectl ;;
  kube-apiserver) ensure_kube_apiserver ;;
  etcd) ensure_etcd ;;
  kstatus) ensure_kstatus ;;
  control-plane) control_plane_tools ;;
  test-tools) test_tools ;;
  all) control_plane_tools; test_tools ;;
  *)
    sed -n '2,15p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
    exit 2
    ;;
esac
