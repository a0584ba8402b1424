"""Failure while writing never leaves a file a later run would trust; a killed run resumes without redoing work.

Atomic writes: a writer that fails midway, a file-size limit (the disk filling up, via RLIMIT_FSIZE in a
subprocess), a read-only directory and a refused rename each leave no file under the final name and no `.partial`
file; a failed rewrite keeps the previous complete version.

Kill and resume: `release_inputs_job` runs in a subprocess on a copy of the bundled sample; it is SIGKILLed while
`dhs_filtered_variants` is reading its inputs (held there by a named pipe standing in for a slow disk), after
`raw_gtex_eqtls` was materialised. Re-executing the run from failure (the UI's "Re-execute from failure") runs only
the unfinished steps: `raw_gtex_eqtls` is not recomputed (same file, same mtime, one materialization).
"""

import errno
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from endobench.lib.io.atomic import atomic_path, write_parquet, write_text
from endobench_tests.paths import REPO, SAMPLE_DIR

pytestmark = pytest.mark.timeout(120)



def _frame(n: int = 1_000) -> pd.DataFrame:
    rng = np.random.default_rng(7)
    return pd.DataFrame({"variant_id": [f"chr22_{16_000_000 + i}_G_A_b38" for i in range(n)],
                         "effect": rng.normal(size=n)})


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".partial"))


class HalfWrittenFrame(pd.DataFrame):
    """A frame whose parquet writer puts some bytes on disk and then hits a full disk, as a real writer can."""

    @property
    def _constructor(self):
        return HalfWrittenFrame

    def to_parquet(self, path, **kwargs):
        with open(path, "wb") as handle:
            handle.write(b"PAR1" + b"\0" * 4096)
        raise OSError(errno.ENOSPC, "No space left on device", str(path))


def test_a_writer_failing_midway_leaves_no_file(tmp_path):
    """The half-written bytes stay in the temporary file, which is removed; the final name never appears."""
    target = tmp_path / "sequence_windows" / "v8.parquet"
    with pytest.raises(OSError) as caught:
        write_parquet(HalfWrittenFrame(_frame()), target)
    assert caught.value.errno == errno.ENOSPC
    assert f"Nothing was written to {target}" in "\n".join(getattr(caught.value, "__notes__", []))
    assert not target.exists()
    assert _leftovers(target.parent) == []


def test_a_failed_rewrite_keeps_the_previous_complete_version(tmp_path):
    """A later failing write of the same output leaves the earlier, complete file untouched."""
    target = tmp_path / "v8.parquet"
    good = _frame(50)
    write_parquet(good, target)
    with pytest.raises(OSError):
        write_parquet(HalfWrittenFrame(_frame(5_000)), target)
    pd.testing.assert_frame_equal(pd.read_parquet(target), good)
    assert _leftovers(tmp_path) == []


def test_a_refused_rename_removes_the_temporary_file(tmp_path):
    """When the final name cannot be replaced (here a folder is in the way) nothing is left behind."""
    target = tmp_path / "report.md"
    target.mkdir()
    with pytest.raises(IsADirectoryError):
        write_text("# report\n", target)
    assert target.is_dir() and list(target.iterdir()) == []
    assert _leftovers(tmp_path) == []


def test_the_block_raising_removes_the_temporary_file(tmp_path):
    """Any exception inside `atomic_path` (not only OSError) discards the temporary file."""
    target = tmp_path / "metrics.json"
    with pytest.raises(ValueError, match="NaN is not JSON"):
        with atomic_path(target) as tmp:
            tmp.write_text('{"n": 12')
            raise ValueError("NaN is not JSON")
    assert not target.exists() and _leftovers(tmp_path) == []


def _run_python(code: str, *, drop_root_override: bool = False, timeout: float = 60) -> subprocess.CompletedProcess:
    command = [sys.executable, "-c", textwrap.dedent(code)]
    if drop_root_override and os.geteuid() == 0:
        # root ignores permission bits; without these two capabilities it obeys them like any user.
        if shutil.which("setpriv") is None:
            pytest.skip("running as root without setpriv: permission bits cannot be enforced")
        command = ["setpriv", "--bounding-set=-dac_override,-dac_read_search", *command]
    return subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=timeout)


def test_a_full_disk_leaves_no_file(tmp_path):
    """With the file size capped at 64 KiB (RLIMIT_FSIZE, what a full disk does to a writer) the write fails cleanly."""
    target = tmp_path / "raw_gtex_eqtls" / "v8.parquet"
    result = _run_python(f"""
        import errno, resource, signal
        import numpy as np, pandas as pd
        from endobench.lib.io.atomic import write_parquet
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # get EFBIG from write() instead of being killed
        resource.setrlimit(resource.RLIMIT_FSIZE, (65536, 65536))
        frame = pd.DataFrame({{"x": np.random.default_rng(1).normal(size=200_000)}})
        try:
            write_parquet(frame, {str(target)!r})
        except OSError as exc:
            print("errno", exc.errno)
            print("\\n".join(getattr(exc, "__notes__", [])))
            raise SystemExit(3)
    """)
    assert result.returncode == 3, result.stderr
    assert f"errno {errno.EFBIG}" in result.stdout
    assert f"Nothing was written to {target}" in result.stdout
    assert not target.exists()
    assert _leftovers(target.parent) == []


def test_a_read_only_output_folder_leaves_no_file(tmp_path):
    """Writing into a folder the process may not write to fails with a permission error and creates nothing."""
    folder = tmp_path / "outputs"
    folder.mkdir()
    os.chmod(folder, 0o555)
    target = folder / "v8.parquet"
    try:
        result = _run_python(f"""
            from pathlib import Path
            from endobench.lib.io.atomic import write_text
            try:
                write_text("complete", Path({str(target)!r}))
            except PermissionError as exc:
                print("\\n".join(getattr(exc, "__notes__", [])))
                raise SystemExit(3)
        """, drop_root_override=True)
    finally:
        os.chmod(folder, 0o755)
    assert result.returncode == 3, result.stderr
    assert f"make {folder} writable" in result.stdout
    assert list(folder.iterdir()) == []


def test_a_writer_killed_midway_never_leaves_the_final_name(tmp_path):
    """SIGKILL during a write: the final name keeps the previous version; only a hidden `.partial` remains.

    Readers open outputs by their final name only, so a later run never trusts the killed write.
    """
    target = tmp_path / "v8.parquet"
    write_parquet(_frame(10), target)
    process = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import sys, time
        from pathlib import Path
        from endobench.lib.io.atomic import atomic_path
        with atomic_path(Path({str(target)!r})) as tmp:
            tmp.write_bytes(b"PAR1" + b"x" * 100_000)
            print("writing", flush=True)
            time.sleep(120)
    """)], cwd=REPO, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout.readline().strip() == "writing"
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    pd.testing.assert_frame_equal(pd.read_parquet(target), _frame(10))
    leftovers = _leftovers(tmp_path)
    assert len(leftovers) == 1 and leftovers[0].startswith(".v8.parquet.")
    write_parquet(_frame(20), target)  # the next run writes normally beside the leftover
    pd.testing.assert_frame_equal(pd.read_parquet(target), _frame(20))


# Kill and resume at the level of the release job.

IN_PROCESS: dict = {}  # the code location's executor runs every step in the run's own process already
FAKE_KEY = "fake-alphagenome-key-resume-0000"
GTEX_SAMPLE = "gtex_v8_Whole_Blood.v8.egenes.txt.gz"
DAGSTER_YAML = "telemetry:\n  enabled: false\n"


def release_inputs_job():
    """The job as the code location builds it from the environment (a reconstructable target for execute_job)."""
    from endobench.definitions import build_definitions
    from endobench.defs.resources import resources_from_environment

    return build_definitions(resources_from_environment()).resolve_job_def("release_inputs_job")


def _run_job_code(reexecute_run_id: str | None) -> str:
    return textwrap.dedent(f"""
        import dagster as dg
        from endobench_tests.test_resume_and_atomic import IN_PROCESS, release_inputs_job
        instance = dg.DagsterInstance.get()
        job = dg.reconstructable(release_inputs_job)
        parent = {reexecute_run_id!r}
        if parent:
            options = dg.ReexecutionOptions.from_failure(parent, instance)
            # The UI copies the parent's tags, the partition among them; execute_job needs them spelled out.
            tags = {{k: v for k, v in instance.get_run_by_id(parent).tags.items() if k == "dagster/partition"}}
            result = dg.execute_job(job, instance, run_config=IN_PROCESS, tags=tags, reexecution_options=options)
        else:
            result = dg.execute_job(job, instance, run_config=IN_PROCESS, tags={{"dagster/partition": "v8"}})
        print("run", result.run_id, result.success, flush=True)
    """)


def prepare_run_dir(root: Path, *, predictor: str = "alphagenome", address: str = "127.0.0.1:9",
                    replace: dict[str, Path] | None = None) -> dict[str, str]:
    """A data dir whose sample/ links the bundled files (GTEx cut to chr22), a Dagster home, and the run's env."""
    sample = root / "data" / "sample"
    sample.mkdir(parents=True)
    replace = {GTEX_SAMPLE: SAMPLE_DIR / "gtex_v8_Whole_Blood.v8.egenes.chr22.txt.gz", **(replace or {})}
    for source in SAMPLE_DIR.iterdir():
        os.symlink(replace.get(source.name, source), sample / source.name)
    home = root / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text(DAGSTER_YAML)
    return os.environ | {
        "DAGSTER_HOME": str(home), "ENDOBENCH_DATA_DIR": str(root / "data"), "ENDOBENCH_PROFILE": "sample",
        "ENDOBENCH_PREDICTOR": predictor, "ALPHAGENOME_API_KEY": FAKE_KEY, "ENDOBENCH_ALPHAGENOME_ADDRESS": address,
        "PYTHONPATH": str(REPO),
    }


def materialize_shared_inputs(env: dict[str, str]) -> None:
    """raw_qtl_tables and dhs_peaks, the release-independent inputs the release job reads (no model needed)."""
    import dagster as dg

    from endobench.defs.assets import inputs
    from endobench.defs.partitions import GTEX_RELEASE_PARTITIONS_NAME, SAMPLE_RELEASE
    from endobench.defs.resources import build_resources

    instance = dg.DagsterInstance.from_config(env["DAGSTER_HOME"])
    instance.add_dynamic_partitions(GTEX_RELEASE_PARTITIONS_NAME, [SAMPLE_RELEASE])
    resources = build_resources(predictor="local", data_dir=env["ENDOBENCH_DATA_DIR"])
    result = dg.materialize([inputs.raw_qtl_tables, inputs.dsqtl_sites, inputs.dhs_peaks], instance=instance,
                            resources={k: resources[k] for k in ("storage", "sources")})
    assert result.success


def _events(instance, run_id: str, event_type) -> list:
    return [e for e in instance.all_logs(run_id) if e.dagster_event and e.dagster_event.event_type == event_type]


@pytest.mark.slow
def test_a_killed_release_run_resumes_without_redoing_finished_assets(tmp_path):
    """SIGKILL inside dhs_filtered_variants; re-execution from failure keeps raw_gtex_eqtls and finishes the rest."""
    import dagster as dg

    env = prepare_run_dir(tmp_path)
    materialize_shared_inputs(env)
    instance = dg.DagsterInstance.from_config(env["DAGSTER_HOME"])
    outputs = Path(env["ENDOBENCH_DATA_DIR"]) / "outputs"
    qtl_table = outputs / "raw_qtl_tables" / "all.parquet"
    aside = qtl_table.with_name("aside.parquet")
    os.replace(qtl_table, aside)
    os.mkfifo(qtl_table)  # opening it blocks until a writer appears: the step waits here like on a stalled disk

    process = subprocess.Popen([sys.executable, "-c", _run_job_code(None)], cwd=REPO, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 90
        run_id = None
        while time.monotonic() < deadline and process.poll() is None:
            runs = instance.get_run_records()
            run_id = runs[0].dagster_run.run_id if runs and runs[0].dagster_run.job_name == "release_inputs_job" else None
            if run_id and any(e.dagster_event.step_key == "dhs_filtered_variants"
                              for e in _events(instance, run_id, dg.DagsterEventType.STEP_START)):
                break
            time.sleep(0.2)
        assert process.poll() is None, f"the run ended before it could be killed: {process.communicate()}"
        assert run_id is not None
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    os.unlink(qtl_table)
    os.replace(aside, qtl_table)

    killed = instance.get_run_by_id(run_id)
    assert killed.status == dg.DagsterRunStatus.STARTED  # nobody recorded the end: the process just vanished
    done_before = {e.dagster_event.step_key for e in _events(instance, run_id, dg.DagsterEventType.STEP_SUCCESS)}
    assert "raw_gtex_eqtls" in done_before and "dhs_filtered_variants" not in done_before
    gtex_file = outputs / "raw_gtex_eqtls" / "v8.parquet"
    gtex_mtime = gtex_file.stat().st_mtime_ns
    assert not (outputs / "dhs_filtered_variants" / "v8.parquet").exists()
    # What the run monitor (deploy/dagster.yaml: run_monitoring) does when a run worker disappears.
    instance.report_run_failed(killed, message="run worker was killed (SIGKILL)")

    resumed = subprocess.run([sys.executable, "-c", _run_job_code(run_id)], cwd=REPO, env=env,
                             capture_output=True, text=True, timeout=120)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    _, new_run_id, success = resumed.stdout.split()[-3:]
    assert success == "True", resumed.stderr[-3000:]

    redone = {e.dagster_event.step_key for e in _events(instance, new_run_id, dg.DagsterEventType.STEP_SUCCESS)}
    assert {"dhs_filtered_variants", "sequence_windows"} <= redone
    assert not redone & done_before, f"finished steps were run again: {redone & done_before}"
    assert gtex_file.stat().st_mtime_ns == gtex_mtime
    gtex_materializations = instance.fetch_materializations(dg.AssetKey("raw_gtex_eqtls"), limit=10).records
    assert [(r.run_id, r.partition_key) for r in gtex_materializations] == [(run_id, "v8")]
    for asset in ("dhs_filtered_variants", "sequence_windows"):
        records = instance.fetch_materializations(dg.AssetKey(asset), limit=10).records
        assert [(r.run_id, r.partition_key) for r in records] == [(new_run_id, "v8")]
        assert (outputs / asset / "v8.parquet").exists()
    assert _leftovers(outputs / "dhs_filtered_variants") == []
