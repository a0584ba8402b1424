"""The code location the UI loads: its exact assets, checks, sensors, schedules and jobs, and its wiring."""

import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest

from endobench.definitions import build_definitions, defs
from endobench.defs.resources import build_predictor, build_resources
from endobench.resources.predictors import LocalPredictor
from endobench.resources.storage import Storage
from endobench_tests.paths import REPO

ASSETS = {
    "raw_gtex_eqtls", "raw_qtl_tables", "dsqtl_sites", "dhs_peaks", "local_model", "dhs_filtered_variants",
    "sequence_windows", "motif_changes",
    "variant_effect_predictions", "benchmark_report", "external_benchmark",
}
CHECKS = {
    ("raw_gtex_eqtls", "gtex_effect_is_signed"), ("raw_qtl_tables", "qtl_effect_is_signed"),
    ("dhs_filtered_variants", "genome_builds_match"), ("sequence_windows", "reference_allele_agreement"),
    ("sequence_windows", "window_lengths_match_predictor"),
}
SENSORS = {"gtex_release_sensor", "endobench_automation"}
SCHEDULES = set()
JOBS = {"shared_inputs_job", "release_inputs_job", "predictions_job", "report_job"}
AUTOMATED = ASSETS - {"external_benchmark"}  # fed by run configuration, so only ever launched by hand


def test_the_code_location_defines_exactly_these_objects():
    loaded = build_definitions(build_resources(data_dir="data"))
    graph = loaded.resolve_asset_graph()
    assert {k.to_user_string() for k in loaded.resolve_all_asset_keys()} == ASSETS
    assert {(c.asset_key.to_user_string(), c.name) for c in graph.asset_check_keys} == CHECKS
    assert {s.name for s in loaded.sensors} == SENSORS
    assert {s.name for s in loaded.schedules} == SCHEDULES
    assert {j.name for j in loaded.jobs} == JOBS


def test_every_asset_but_the_external_one_is_automated_and_versioned():
    graph = build_definitions(build_resources(data_dir="data")).resolve_asset_graph()
    automated = {k.to_user_string() for k in graph.get_all_asset_keys() if graph.get(k).automation_condition}
    versioned = {k.to_user_string() for k in graph.get_all_asset_keys() if graph.get(k).code_version}
    assert automated == versioned == AUTOMATED


def test_no_run_status_sensor_chains_runs():
    """Downstream work follows by declaration; the only sensors are the release and automation sensors."""
    loaded = build_definitions(build_resources(data_dir="data"))
    assert {type(s).__name__ for s in loaded.sensors} == {"SensorDefinition", "AutomationConditionSensorDefinition"}


def test_dg_check_defs_loads_the_project():
    """`dg check defs` (dagster-dg-cli) autoloads endobench/defs/ through pyproject's [tool.dg.project]."""
    dg_cli = Path(sys.executable).with_name("dg")
    if not dg_cli.exists():
        pytest.skip("dagster-dg-cli is not installed: pip install -e '.[dev]' (make install does)")
    env = {**os.environ, "VIRTUAL_ENV": sys.prefix}
    result = subprocess.run([str(dg_cli), "check", "defs"], cwd=REPO, env=env, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "All definitions loaded successfully." in result.stdout + result.stderr


def test_resources_given_by_the_caller_leave_the_environment_unread(monkeypatch):
    """The demo passes its own resources: a deployment's settings in the shell (here a predictor that does not
    exist) neither stop it nor change what it runs."""
    monkeypatch.setenv("ENDOBENCH_PREDICTOR", "no-such-predictor")
    loaded = build_definitions(build_resources(data_dir="data"))
    assert isinstance(loaded.resources["predictor"], LocalPredictor)
    with pytest.raises(Exception) as raised:
        defs()  # the code location itself still reads the environment, and says what is wrong with it
    causes, error = [], raised.value
    while error is not None:
        causes.append(str(error))
        error = error.__cause__ or error.__context__
    assert any("unknown predictor 'no-such-predictor'" in cause for cause in causes)


def test_the_lazy_definitions_load_and_validate():
    """What `dagster dev` does with workspace.yaml: build the definitions and validate them."""
    loaded = defs()
    assert isinstance(loaded, dg.Definitions)
    dg.Definitions.validate_loadable(loaded)


def test_the_embedded_default_is_the_local_predictor():
    resources = build_resources(data_dir="somewhere")
    assert isinstance(resources["predictor"], LocalPredictor)
    assert resources["predictor"].model_path == "somewhere/outputs/local_model/local_dnase_model.npz"


def test_alphagenome_settings_come_from_the_environment_and_the_key_stays_a_reference(monkeypatch):
    monkeypatch.setenv("ALPHAGENOME_API_KEY", "not-a-real-key-123")
    monkeypatch.setenv("ENDOBENCH_ALPHAGENOME_INTERVAL_LENGTH", "131072")
    monkeypatch.setenv("ENDOBENCH_ALPHAGENOME_DNASE_ONTOLOGY", "EFO:0002784")
    predictor = build_predictor("alphagenome", Storage(root="x"))
    assert predictor.interval_length == 131_072
    assert predictor.dnase_ontology == "EFO:0002784"
    assert isinstance(predictor.api_key, dg.EnvVar)
    assert "not-a-real-key-123" not in repr(predictor)


def test_track_overrides_come_from_the_environment_as_json(monkeypatch):
    """ENDOBENCH_ALPHAGENOME_TRACKS names tracks per readout and biosample; anything but a JSON object of names is
    refused with the variable named."""
    monkeypatch.setenv("ENDOBENCH_ALPHAGENOME_TRACKS",
                       '{"expression|UBERON:0002106": "UBERON:0002106 gtex Spleen polyA plus RNA-seq"}')
    predictor = build_predictor("alphagenome", Storage(root="x"))
    assert predictor.tracks == {"expression|UBERON:0002106": "UBERON:0002106 gtex Spleen polyA plus RNA-seq"}
    monkeypatch.setenv("ENDOBENCH_ALPHAGENOME_TRACKS", "expression|UBERON:0002106=spleen")
    with pytest.raises(ValueError, match="ENDOBENCH_ALPHAGENOME_TRACKS=.*: it takes a JSON object of track names"):
        build_predictor("alphagenome", Storage(root="x"))
