"""The custom resources as typed values: validation against the CRDs (`schema`, `metadata`),
parsing (`parse`), specs, conditions."""

from sd_operator.model.parse import SpecError, load_manifests, parse_resource

__all__ = ["SpecError", "load_manifests", "parse_resource"]
