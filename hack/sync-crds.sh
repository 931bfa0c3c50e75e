#!/usr/bin/env bash
# Copy the CRDs (crds/, their single source) into the helm chart, which must ship them unchanged.
# tests/unit/test_crds.py fails when the copies differ; run this after editing crds/.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dest="$root/helm/sd-operator/crds"
mkdir -p "$dest"
rm -f "$dest"/*.yaml
cp "$root"/crds/*.yaml "$dest"/
echo "copied $(ls "$root"/crds/*.yaml | wc -l) CRD files to ${dest#"$root"/}"
