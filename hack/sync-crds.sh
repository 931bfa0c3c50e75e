#!/usr/bin/env bash
# Copy the CRDs (crds/, their single source) into the helm chart, which must ship them unchanged,
# and into the package, whose CLI validates manifests against them (sd_operator/crds/, package
# data of the wheel). tests/unit/test_crds.py fails when a copy
# differs; run this after editing crds/.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dest="$root/helm/sd-operator/crds"
mkdir -p "$dest"
rm -f "$dest"/*.yaml
cp "$root"/crds/*.yaml "$dest"/
echo "copied $(ls "$root"/crds/*.yaml | wc -l) CRD files to ${dest#"$root"/}"
package="$root/operator/src/sd_operator/crds"
mkdir -p "$package"
rm -f "$package"/*.yaml
cp "$root"/crds/*.yaml "$package"/
echo "copied $(ls "$root"/crds/*.yaml | wc -l) CRD files to ${package#"$root"/}"
