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


def build_resources(
    *, predictor: str = LOCAL, profile: str = "sample", data_dir: str = "data", sample_dir: str | None = None
) -> dict[str, dg.ConfigurableResource]:
    """All resources for one configuration; tests call this with a temporary `data_dir`."""
    storage = Storage(root=str(Path(data_dir) / "outputs"), cache_dir=str(Path(data_dir) / "cache"))
    sources = DataSources(
        profile=profile,
        sample_dir=sample_dir or str(Path(data_dir) / "sample"),
        download_dir=str(Path(data_dir) / "full"),
    )
    return {"storage": storage, "sources": sources, "predictor": build_predictor(predictor, storage)}


def build_predictor(kind: str, storage: Storage) -> VariantEffectPredictor:
    if kind == LOCAL:
        return LocalPredictor(model_path=str(Path(storage.root) / "local_model" / MODEL_FILE))
    if kind == ALPHAGENOME:
        from endobench.resources.alphagenome import AlphaGenomePredictor

        settings = {
            field: cast(os.environ[name])
            for name, (field, cast) in ALPHAGENOME_SETTINGS.items() if os.environ.get(name)
        }
        return AlphaGenomePredictor(
            api_key=dg.EnvVar("ALPHAGENOME_API_KEY"),
            address=os.environ.get("ENDOBENCH_ALPHAGENOME_ADDRESS", ""),
            **settings,
        )
    raise ValueError(f"unknown predictor {kind!r}: set ENDOBENCH_PREDICTOR to {LOCAL!r} or {ALPHAGENOME!r}")


def resources_from_environment() -> dict[str, dg.ConfigurableResource]:
    """ENDOBENCH_PREDICTOR (local|alphagenome), ENDOBENCH_PROFILE (sample|full), ENDOBENCH_DATA_DIR (default data)."""
    return build_resources(
        predictor=os.environ.get("ENDOBENCH_PREDICTOR", LOCAL),
        profile=os.environ.get("ENDOBENCH_PROFILE", "sample"),
        data_dir=os.environ.get("ENDOBENCH_DATA_DIR", "data"),
    )


@dg.definitions
def resources() -> dg.Definitions:
    """The code location's resources, chosen from the environment when the definitions load (not at import)."""
    return dg.Definitions(resources=resources_from_environment())
