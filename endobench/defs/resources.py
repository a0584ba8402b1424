"""Resource wiring: which predictor and which data profile, chosen by configuration when definitions load."""

from __future__ import annotations

import json
import os
from contextvars import ContextVar
from pathlib import Path

import dagster as dg

from endobench.lib.io.compression import MAX_DECOMPRESSED_ENV
from endobench.resources.predictors import LocalPredictor, VariantEffectPredictor
from endobench.resources.sources import FULL, DataSources, data_sources
from endobench.resources.storage import Storage

LOCAL = "local"


def parse_track_overrides(text: str) -> dict[str, str]:
    """ENDOBENCH_ALPHAGENOME_TRACKS: a JSON object `{"<readout>|<CURIE>": "<exact track name>"}`."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        value = exc
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise ValueError('ENDOBENCH_ALPHAGENOME_TRACKS must be a JSON object of track names, such as '
                         '{"expression|UBERON:0002106": "UBERON:0002106 gtex Spleen polyA plus RNA-seq"}')
    return value

# Optional AlphaGenome settings from the environment (the key itself only ever through dg.EnvVar).
ALPHAGENOME_SETTINGS = {
    "ENDOBENCH_ALPHAGENOME_INTERVAL_LENGTH": ("interval_length", int),
    "ENDOBENCH_ALPHAGENOME_MODEL_VERSION": ("model_version", str),
    "ENDOBENCH_ALPHAGENOME_DNASE_ONTOLOGY": ("dnase_ontology", str),
    "ENDOBENCH_ALPHAGENOME_RNA_ONTOLOGY": ("rna_ontology", str),
    "ENDOBENCH_ALPHAGENOME_CONCURRENCY": ("max_concurrency", int),
    "ENDOBENCH_ALPHAGENOME_REQUESTS_PER_MINUTE": ("requests_per_minute", float),
    "ENDOBENCH_ALPHAGENOME_MAX_NEW_CALLS": ("max_new_calls_per_run", int),
    "ENDOBENCH_ALPHAGENOME_TRACKS": ("tracks", parse_track_overrides),
    "ENDOBENCH_ALPHAGENOME_PROGRESS_SECONDS": ("progress_interval_seconds", float),
    "ENDOBENCH_ALPHAGENOME_CONNECT_SECONDS": ("connect_timeout_seconds", float),
    "ENDOBENCH_ALPHAGENOME_QUOTA_WINDOW_SECONDS": ("quota_window_seconds", float),
}
ALPHAGENOME = "alphagenome"
MOTIF = "motif"
# Optional data-source settings from the environment: where the `full` profile downloads from, and what.
SOURCES_SETTINGS = {
    "ENDOBENCH_GTEX_BASE_URL": ("gtex_base_url", str),
    "ENDOBENCH_GTEX_TISSUES": ("gtex_tissues", lambda text: [t.strip() for t in text.split(",") if t.strip()]),
    "ENDOBENCH_ANNOTATIONS": ("annotations", lambda text: [t.strip() for t in text.split(",") if t.strip()]),
    "ENDOBENCH_GTEX_EFFECT": ("gtex_effect", str),
    "ENDOBENCH_GTEX_FILE_KIND": ("gtex_file_kind", str),
    "ENDOBENCH_UCSC_BASE_URL": ("ucsc_base_url", str),
    "ENDOBENCH_ENCODE_BASE_URL": ("encode_base_url", str),
    "ENDOBENCH_PEAKS_ENCODE_ACCESSION": ("peaks_encode_accession", str),
    "ENDOBENCH_PINNED_MD5": ("pinned_md5", json.loads),
}


# The settings both profiles have (the full profile's download settings mean nothing to the sample).
SHARED_SOURCES_SETTINGS = {k: v for k, v in SOURCES_SETTINGS.items() if k in ("ENDOBENCH_GTEX_TISSUES",
                                                                          "ENDOBENCH_ANNOTATIONS",
                                                                          "ENDOBENCH_GTEX_EFFECT")}


# Every variable a run reads when it loads the definitions or executes (here, the storage, the sources and
# the size guard), besides the API key: a run launcher passes each into every run's process or container
# (`env_vars` of deploy/dagster.yaml). The sensors' own settings (automation.py) are read by the daemon only.
RUN_ENVIRONMENT = (
    "ENDOBENCH_PREDICTOR", "ENDOBENCH_PROFILE", "ENDOBENCH_DATA_DIR", "ENDOBENCH_ALPHAGENOME_ADDRESS",
    *ALPHAGENOME_SETTINGS, *SOURCES_SETTINGS, MAX_DECOMPRESSED_ENV,
)


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
    downloads = {"download_dir": str(Path(data_dir) / "full")} if profile == FULL else {}
    sources = data_sources(profile, sample_dir=sample_dir or str(Path(data_dir) / "sample"), **downloads,
                           **(sources_settings or {}))
    return {"storage": storage, "sources": sources, "predictor": build_predictor(predictor, storage, sources)}


def build_predictor(kind: str, storage: Storage, sources: DataSources | None = None) -> VariantEffectPredictor:
    if kind == LOCAL:
        return LocalPredictor(model_path=str(storage.local_model_path()))
    if kind == MOTIF:
        from endobench.resources.motifs import MotifPredictor

        return MotifPredictor(expressed_genes={curie: str(path) for curie, path in
                                               (sources.expressed_genes() if sources is not None else {}).items()})
    if kind == ALPHAGENOME:
        from endobench.resources.alphagenome import AlphaGenomePredictor

        return AlphaGenomePredictor(
            api_key=dg.EnvVar("ALPHAGENOME_API_KEY"),
            address=os.environ.get("ENDOBENCH_ALPHAGENOME_ADDRESS", ""),
            fold_regions_path=str(sources.fold_regions()) if sources is not None else "",
            **settings_from_environment(ALPHAGENOME_SETTINGS),
        )
    raise ValueError(f"unknown predictor {kind!r}: set ENDOBENCH_PREDICTOR to {LOCAL!r}, {ALPHAGENOME!r} or {MOTIF!r}")


def resources_from_environment(predictor: str | None = None) -> dict[str, dg.ConfigurableResource]:
    """ENDOBENCH_PREDICTOR (local|alphagenome|motif; `predictor` overrides it), ENDOBENCH_PROFILE (sample|full),
    ENDOBENCH_DATA_DIR (default data), and the optional `SOURCES_SETTINGS` and `ALPHAGENOME_SETTINGS`."""
    profile = os.environ.get("ENDOBENCH_PROFILE", "sample")
    return build_resources(
        predictor=predictor or os.environ.get("ENDOBENCH_PREDICTOR", LOCAL),
        profile=profile,
        data_dir=os.environ.get("ENDOBENCH_DATA_DIR", "data"),
        sources_settings=settings_from_environment(SOURCES_SETTINGS if profile == FULL else SHARED_SOURCES_SETTINGS),
    )


# Set while `build_definitions` loads the definitions with resources of its caller's (the demo, tests, benches):
# the environment's are then neither needed nor built, so a setting meant for a deployment (a predictor, an
# AlphaGenome limit that does not parse) cannot stop a run that does not use it.
CALLER_RESOURCES: ContextVar[bool] = ContextVar("endobench_caller_resources", default=False)


@dg.definitions
def resources() -> dg.Definitions:
    """The code location's resources, chosen from the environment when the definitions load (not at import)."""
    if CALLER_RESOURCES.get():
        return dg.Definitions()
    return dg.Definitions(resources=resources_from_environment())
