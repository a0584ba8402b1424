"""Resource wiring: which predictor and which data profile, chosen by configuration when definitions load."""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable
from contextvars import ContextVar
from pathlib import Path

import dagster as dg

from endobench.lib.io.compression import MAX_DECOMPRESSED_ENV
from endobench.resources.predictors import LocalPredictor, VariantEffectPredictor
from endobench.resources.sources import FULL, SAMPLE, DataSources, FullDataSources, data_sources
from endobench.resources.storage import Storage

LOCAL = "local"


def parse_track_overrides(text: str) -> dict[str, str]:
    """ENDOBENCH_ALPHAGENOME_TRACKS: a JSON object `{"<readout>|<CURIE>": "<exact track name>"}`."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        value = exc
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise ValueError('it takes a JSON object of track names, such as '
                         '{"expression|UBERON:0002106": "UBERON:0002106 gtex Spleen polyA plus RNA-seq"}')
    return value

def whole_number(allowed: str) -> Callable[[str], int]:
    """A parser of a whole-number setting; anything else (`1MB`, `1e6`, `nan`) is refused saying what it takes."""
    def parse(text: str) -> int:
        try:
            return int(text.strip().replace("_", ""))
        except ValueError:
            raise ValueError(f"not a whole number; it takes {allowed}") from None

    return parse


def on_or_off(text: str) -> bool:
    """A switch: `on` or `off` (also true/false, yes/no, 1/0); anything else is refused saying what it takes."""
    value = text.strip().lower()
    if value in ("on", "true", "yes", "1"):
        return True
    if value in ("off", "false", "no", "0"):
        return False
    raise ValueError("it takes on or off")


def finite_number(allowed: str) -> Callable[[str], float]:
    """A parser of a number setting; NaN, infinity and text are refused saying what it takes."""
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        if not math.isfinite(value):
            raise ValueError(f"not a finite number; it takes {allowed}")
        return value

    return parse


UCSC_HG19_PEAKS = "ucsc_hg19"


def peaks_accession(text: str) -> str:
    """ENDOBENCH_PEAKS_ENCODE_ACCESSION: an ENCODE GRCh38 K562 DNase peak file (`ENCFF...`), or `ucsc_hg19` for the
    seed's UCSC hg19 peaks, lifted (an empty variable means the default, so it cannot say "none")."""
    text = text.strip()
    return "" if text.lower() == UCSC_HG19_PEAKS else text


# Optional AlphaGenome settings from the environment (the key itself only ever through dg.EnvVar).
ALPHAGENOME_SETTINGS = {
    "ENDOBENCH_ALPHAGENOME_INTERVAL_LENGTH": (
        "interval_length", whole_number("one of 16384, 131072, 524288 or 1048576 (bases)")),
    "ENDOBENCH_ALPHAGENOME_MODEL_VERSION": ("model_version", str),
    "ENDOBENCH_ALPHAGENOME_DNASE_ONTOLOGY": ("dnase_ontology", str),
    "ENDOBENCH_ALPHAGENOME_RNA_ONTOLOGY": ("rna_ontology", str),
    "ENDOBENCH_ALPHAGENOME_CONCURRENCY": ("max_concurrency", whole_number("a whole number from 1 to 64")),
    "ENDOBENCH_ALPHAGENOME_REQUESTS_PER_MINUTE": (
        "requests_per_minute", finite_number("a number of calls per minute >= 0 (0: no ceiling)")),
    "ENDOBENCH_ALPHAGENOME_MAX_NEW_CALLS": ("max_new_calls_per_run", whole_number("a whole number >= 0")),
    "ENDOBENCH_ALPHAGENOME_TRACKS": ("tracks", parse_track_overrides),
    "ENDOBENCH_ALPHAGENOME_PROGRESS_SECONDS": (
        "progress_interval_seconds", finite_number("a number of seconds > 0")),
    "ENDOBENCH_ALPHAGENOME_CONNECT_SECONDS": ("connect_timeout_seconds", finite_number("a number of seconds > 0")),
    "ENDOBENCH_ALPHAGENOME_QUOTA_WINDOW_SECONDS": (
        "quota_window_seconds", finite_number("a number of seconds > 0 (60: the service counts per minute)")),
    "ENDOBENCH_ALPHAGENOME_ATLAS": ("atlas", on_or_off),
    "ENDOBENCH_ALPHAGENOME_ATLAS_REQUESTS_PER_MINUTE": (
        "atlas_requests_per_minute", finite_number("a number of Atlas calls per minute >= 0 (0: no ceiling)")),
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
    "ENDOBENCH_PEAKS_ENCODE_ACCESSION": ("peaks_encode_accession", peaks_accession),
    "ENDOBENCH_PINNED_MD5": ("pinned_md5", json.loads),
    "ENDOBENCH_DOWNLOAD_RETRIES": ("download_retries", whole_number("a whole number of retries >= 0")),
    "ENDOBENCH_GTEX_NEGATIVES": ("gtex_negatives", str),
    "ENDOBENCH_GTEX_NEGATIVES_PER_GENE": ("negatives_per_gene", whole_number("a whole number of tests >= 1")),
    "ENDOBENCH_GTEX_ALLPAIRS_BASE_URL": ("gtex_allpairs_base_url", str),
    "ENDOBENCH_GTEX_ALLPAIRS_BILLING_PROJECT": ("gtex_allpairs_billing_project", str),
}
# The OAuth access token for GTEx's requester-pays all-pairs bucket: a secret, so only ever through dg.EnvVar.
GCS_TOKEN_VARIABLE = "ENDOBENCH_GCS_ACCESS_TOKEN"


# The settings both profiles have (the full profile's download settings mean nothing to the sample).
SHARED_SOURCES_SETTINGS = {k: v for k, v in SOURCES_SETTINGS.items() if k in ("ENDOBENCH_GTEX_TISSUES",
                                                                          "ENDOBENCH_ANNOTATIONS",
                                                                          "ENDOBENCH_GTEX_EFFECT",
                                                                          "ENDOBENCH_GTEX_NEGATIVES",
                                                                          "ENDOBENCH_GTEX_NEGATIVES_PER_GENE")}


# Every variable a run reads when it loads the definitions or executes (here, the storage, the sources and
# the size guard), besides the API key: a run launcher passes each into every run's process or container
# (`env_vars` of deploy/dagster.yaml). The sensors' own settings (automation.py) are read by the daemon only.
RUN_ENVIRONMENT = (
    "ENDOBENCH_PREDICTOR", "ENDOBENCH_PROFILE", "ENDOBENCH_DATA_DIR", "ENDOBENCH_ALPHAGENOME_ADDRESS",
    *ALPHAGENOME_SETTINGS, *SOURCES_SETTINGS, GCS_TOKEN_VARIABLE, MAX_DECOMPRESSED_ENV,
)


def settings_from_environment(settings: dict[str, tuple[str, Callable[[str], object]]]) -> dict[str, object]:
    """Resource fields from the environment variables of `settings` that are set (read at load, not import); a
    value that does not parse is a ValueError naming the variable, its value and what it takes."""
    fields = {}
    for name, (field, parse) in settings.items():
        text = os.environ.get(name)
        if text:
            try:
                fields[field] = parse(text)
            except ValueError as exc:
                raise ValueError(f"{name}={text!r}: {exc}") from None
    return fields


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
        from endobench.resources.alphagenome import AlphaGenomeConfigError, AlphaGenomePredictor

        predictor = AlphaGenomePredictor(
            api_key=dg.EnvVar("ALPHAGENOME_API_KEY"),
            address=os.environ.get("ENDOBENCH_ALPHAGENOME_ADDRESS", ""),
            fold_regions_path=str(sources.fold_regions()) if sources is not None else "",
            **settings_from_environment(ALPHAGENOME_SETTINGS),
        )
        try:  # settings out of range are refused when the definitions load, not at the first call
            predictor.check_config()
        except AlphaGenomeConfigError as exc:
            named = [name for name, (field, _) in ALPHAGENOME_SETTINGS.items()
                     if os.environ.get(name) and f"{field}=" in str(exc)]
            raise ValueError(f"{exc} (set by {', '.join(named)})" if named else str(exc)) from None
        return predictor
    raise ValueError(f"unknown predictor {kind!r}: set ENDOBENCH_PREDICTOR to {LOCAL!r}, {ALPHAGENOME!r} or {MOTIF!r}")


def resources_from_environment(predictor: str | None = None, data_dir: str | None = None
                               ) -> dict[str, dg.ConfigurableResource]:
    """ENDOBENCH_PREDICTOR (local|alphagenome|motif; `predictor` overrides it), ENDOBENCH_PROFILE (sample|full),
    ENDOBENCH_DATA_DIR (default data; `data_dir` overrides it), and the optional `SOURCES_SETTINGS` and
    `ALPHAGENOME_SETTINGS`: what the code location, `endobench demo` and `endobench score-variants` all read."""
    # Empty is unset: a deployment's environment file sets every variable, empty for the default.
    profile = os.environ.get("ENDOBENCH_PROFILE") or SAMPLE
    settings = settings_from_environment(SOURCES_SETTINGS if profile == FULL else SHARED_SOURCES_SETTINGS)
    if profile == FULL and os.environ.get(GCS_TOKEN_VARIABLE):  # set: resolved by Dagster, never read here
        settings["gcs_access_token"] = dg.EnvVar(GCS_TOKEN_VARIABLE)
    return build_resources(
        predictor=predictor or os.environ.get("ENDOBENCH_PREDICTOR") or LOCAL,
        profile=profile,
        data_dir=data_dir or os.environ.get("ENDOBENCH_DATA_DIR") or "data",
        sources_settings=settings,
    )


class SettingsError(ValueError):
    """A setting that stops a command before any work; the message is the one line to print."""


def built_predictor(resources: dict[str, dg.ConfigurableResource]) -> VariantEffectPredictor:
    """The configured predictor, built as a run builds it (its `dg.EnvVar`s resolved): a missing API key or a
    setting that cannot work is a `SettingsError` saying which variable to set, before any work."""
    from endobench.resources.alphagenome import API_KEY_VARIABLE

    try:
        with dg.build_resources({"predictor": resources["predictor"]}) as built:
            return built.predictor
    except dg.DagsterInvalidConfigError as exc:
        text = str(exc)
        if API_KEY_VARIABLE in text:
            raise SettingsError(f"{API_KEY_VARIABLE} is not set: export your AlphaGenome API key in it") from None
        raise SettingsError(text.splitlines()[0]) from None


def describe_settings(resources: dict[str, dg.ConfigurableResource]) -> str:
    """The settings a run uses, in one line: `profile=full data=/big/disk tissues=... annotations=...
    predictor=...` (with the AlphaGenome settings that pick what is scored and how fast)."""
    sources, storage, predictor = resources["sources"], resources["storage"], resources["predictor"]
    profile = FULL if isinstance(sources, FullDataSources) else SAMPLE
    name = LOCAL if isinstance(predictor, LocalPredictor) else predictor.predictor_name()
    if name == ALPHAGENOME:
        name += (f" (interval_length={predictor.interval_length}, model_version={predictor.model_version}, "
                 f"requests_per_minute={predictor.requests_per_minute:g}, atlas={'on' if predictor.atlas else 'off'}, "
                 f"address={predictor.address or 'public endpoint'})")
    return (f"profile={profile} data={Path(storage.root).parent} tissues={','.join(sources.gtex_tissues)} "
            f"annotations={','.join(sources.annotations)} predictor={name}")


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
