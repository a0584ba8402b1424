"""Resource wiring: which predictor and which data profile, chosen by configuration when definitions load."""

from __future__ import annotations

import os
from pathlib import Path

import dagster as dg

from endobench.defs.assets.model import MODEL_FILE
from endobench.resources.predictors import LocalPredictor, VariantEffectPredictor
from endobench.resources.sources import DataSources
from endobench.resources.storage import Storage

LOCAL = "local"

# Optional AlphaGenome settings from the environment (the key itself only ever through dg.EnvVar).
ALPHAGENOME_SETTINGS = {
    "ENDOBENCH_ALPHAGENOME_INTERVAL_LENGTH": ("interval_length", int),
    "ENDOBENCH_ALPHAGENOME_MODEL_VERSION": ("model_version", str),
    "ENDOBENCH_ALPHAGENOME_DNASE_ONTOLOGY": ("dnase_ontology", str),
    "ENDOBENCH_ALPHAGENOME_RNA_ONTOLOGY": ("rna_ontology", str),
    "ENDOBENCH_ALPHAGENOME_CONCURRENCY": ("max_concurrency", int),
    "ENDOBENCH_ALPHAGENOME_REQUESTS_PER_MINUTE": ("requests_per_minute", float),
    "ENDOBENCH_ALPHAGENOME_MAX_NEW_CALLS": ("max_new_calls_per_run", int),
}
ALPHAGENOME = "alphagenome"
# Optional data-source settings from the environment: where the `full` profile downloads from, and what.
SOURCES_SETTINGS = {
    "ENDOBENCH_GTEX_BASE_URL": ("gtex_base_url", str),
    "ENDOBENCH_GTEX_TISSUE": ("gtex_tissue", str),
    "ENDOBENCH_GTEX_FILE_KIND": ("gtex_file_kind", str),
    "ENDOBENCH_UCSC_BASE_URL": ("ucsc_base_url", str),
    "ENDOBENCH_ENCODE_BASE_URL": ("encode_base_url", str),
    "ENDOBENCH_PEAKS_ENCODE_ACCESSION": ("peaks_encode_accession", str),
}


def settings_from_environment(settings: dict[str, tuple[str, type]]) -> dict[str, object]:
    """Resource fields from the environment variables of `settings` that are set (read at load, not import)."""
    return {field: cast(os.environ[name]) for name, (field, cast) in settings.items() if os.environ.get(name)}


def build_resources(
    *, predictor: str = LOCAL, profile: str = "sample", data_dir: str = "data", sample_dir: str | None = None,
    sources_settings: dict[str, object] | None = None,
) -> dict[str, dg.ConfigurableResource]:
    """All resources for one configuration; tests call this with a temporary `data_dir`.

    `sources_settings` are further `DataSources` fields, such as the base URLs the `full` profile downloads from.
    """
    storage = Storage(root=str(Path(data_dir) / "outputs"), cache_dir=str(Path(data_dir) / "cache"))
    sources = DataSources(
        profile=profile,
        sample_dir=sample_dir or str(Path(data_dir) / "sample"),
        download_dir=str(Path(data_dir) / "full"),
        **(sources_settings or {}),
    )
    return {"storage": storage, "sources": sources, "predictor": build_predictor(predictor, storage)}


def build_predictor(kind: str, storage: Storage) -> VariantEffectPredictor:
    if kind == LOCAL:
        return LocalPredictor(model_path=str(Path(storage.root) / "local_model" / MODEL_FILE))
    if kind == ALPHAGENOME:
        from endobench.resources.alphagenome import AlphaGenomePredictor

        return AlphaGenomePredictor(
            api_key=dg.EnvVar("ALPHAGENOME_API_KEY"),
            address=os.environ.get("ENDOBENCH_ALPHAGENOME_ADDRESS", ""),
            **settings_from_environment(ALPHAGENOME_SETTINGS),
        )
    raise ValueError(f"unknown predictor {kind!r}: set ENDOBENCH_PREDICTOR to {LOCAL!r} or {ALPHAGENOME!r}")


def resources_from_environment() -> dict[str, dg.ConfigurableResource]:
    """ENDOBENCH_PREDICTOR (local|alphagenome), ENDOBENCH_PROFILE (sample|full), ENDOBENCH_DATA_DIR (default data),
    and the optional `SOURCES_SETTINGS` and `ALPHAGENOME_SETTINGS`."""
    return build_resources(
        predictor=os.environ.get("ENDOBENCH_PREDICTOR", LOCAL),
        profile=os.environ.get("ENDOBENCH_PROFILE", "sample"),
        data_dir=os.environ.get("ENDOBENCH_DATA_DIR", "data"),
        sources_settings=settings_from_environment(SOURCES_SETTINGS),
    )


@dg.definitions
def resources() -> dg.Definitions:
    """The code location's resources, chosen from the environment when the definitions load (not at import)."""
    return dg.Definitions(resources=resources_from_environment())
