"""The custom resources as typed values: parsing and validation (`parse`), specs, conditions."""

from sd_operator.model.parse import SpecError, load_manifests, parse_resource

__all__ = ["SpecError", "load_manifests", "parse_resource"]
