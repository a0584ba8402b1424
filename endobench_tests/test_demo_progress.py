"""The demo's console: a line per step of the graph, one counting line for the 23 prediction runs of a release."""

import io

import dagster as dg

from endobench.demo_progress import CLEAR_LINE, DemoProgress

INPUTS = [dg.AssetKey("dhs_peaks"), dg.AssetKey("local_model")]
WINDOWS = dg.AssetKey("sequence_windows")
PREDICTIONS = dg.AssetKey("variant_effect_predictions")
MOTIFS = dg.AssetKey("motif_changes")
CHROMOSOMES = [f"chr{i}" for i in range(1, 23)] + ["chrX"]


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def run_release(progress: DemoProgress, clock: Clock) -> None:
    """The shared inputs (12 s), the windows (2 s), then 23 prediction runs of 1 s each holding 100 variants."""
    requested = [(key, None) for key in INPUTS] + [(WINDOWS, "v8")] + [(PREDICTIONS, f"{c}|v8") for c in CHROMOSOMES]
    progress.planned(requested)
    progress.started(INPUTS, None)
    clock.now += 12
    progress.finished(INPUTS, None, None)
    progress.started([WINDOWS], "v8")
    clock.now += 2
    progress.finished([WINDOWS], "v8", 6_531)
    for chrom in CHROMOSOMES:
        progress.started([PREDICTIONS], f"{chrom}|v8")
        clock.now += 1
        progress.finished([PREDICTIONS], f"{chrom}|v8", 100)
    progress.close()


def test_a_log_gets_a_line_per_step_and_the_predictions_counted_every_10_seconds():
    out, clock = io.StringIO(), Clock()
    run_release(DemoProgress(out, live=False, clock=clock), clock)
    assert out.getvalue().splitlines() == [
        "  dhs_peaks, local_model: 12 s",
        "  sequence_windows v8: 6,531 variants, 2 s",
        "  variant_effect_predictions v8: 10/23 chromosomes, 1,000 variants, 10 s",
        "  variant_effect_predictions v8: 20/23 chromosomes, 2,000 variants, 20 s",
        "  variant_effect_predictions v8: 23/23 chromosomes, 2,300 variants, 23 s",
    ]


def test_a_terminal_sees_each_line_rewritten_in_place_until_its_step_is_done():
    """On a terminal a step shows `running` until it finishes, and the predictions' line counts up in place: the
    screen ends with the same three lines a log gets, the last one final."""
    out, clock = io.StringIO(), Clock()
    run_release(DemoProgress(out, live=True, clock=clock), clock)
    text = out.getvalue()
    assert f"{CLEAR_LINE}  dhs_peaks, local_model: running{CLEAR_LINE}  dhs_peaks, local_model: 12 s\n" in text
    assert f"{CLEAR_LINE}  variant_effect_predictions v8: 7/23 chromosomes, 700 variants, 7 s{CLEAR_LINE}" in text
    screen = [line.rsplit(CLEAR_LINE, 1)[-1] for line in text.split("\n") if line]
    assert screen == ["  dhs_peaks, local_model: 12 s", "  sequence_windows v8: 6,531 variants, 2 s",
                      "  variant_effect_predictions v8: 23/23 chromosomes, 2,300 variants, 23 s"]


def test_a_run_that_fails_leaves_no_line_open():
    """A failure stops the demo mid-step: its message starts on a line of its own."""
    out, clock = io.StringIO(), Clock()
    progress = DemoProgress(out, live=True, clock=clock)
    progress.planned([(PREDICTIONS, f"{c}|v8") for c in CHROMOSOMES])
    progress.started([PREDICTIONS], "chr1|v8")
    progress.close()
    assert out.getvalue().endswith("0/23 chromosomes, 0 variants, 0 s\n")


def test_a_count_left_before_its_last_partition_is_written_when_the_next_step_starts():
    """Predictions of 3 chromosomes, then the motif changes before the rest (another evaluation requests them): the
    log still gets the count as it stood."""
    out, clock = io.StringIO(), Clock()
    progress = DemoProgress(out, live=False, clock=clock)
    progress.planned([(PREDICTIONS, f"{c}|v8") for c in CHROMOSOMES] + [(MOTIFS, "v8")])
    for chrom in CHROMOSOMES[:3]:
        progress.started([PREDICTIONS], f"{chrom}|v8")
        clock.now += 1
        progress.finished([PREDICTIONS], f"{chrom}|v8", 10)
    progress.started([MOTIFS], "v8")
    clock.now += 5
    progress.finished([MOTIFS], "v8", 5_657)
    assert out.getvalue().splitlines() == ["  variant_effect_predictions v8: 3/23 chromosomes, 30 variants, 3 s",
                                           "  motif_changes v8: 5,657 variants, 5 s"]
