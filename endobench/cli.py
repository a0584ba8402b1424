"""The `endobench` command: run the demo, score allele pairs, evaluate external predictions, rebuild the sample.

Every subcommand ends a failure with one readable line on stderr and a non-zero exit status, never a traceback:
2 for bad input (`InputError`), 1 for anything else. `--debug` (anywhere on the command line) adds the traceback.
"""

from __future__ import annotations

import argparse
import errno
import sys
import traceback
from pathlib import Path

from endobench.lib.io.errors import InputError
from endobench.lib.model import model_path

DEFAULT_MODEL = model_path("data/outputs")


class CommandStopped(RuntimeError):
    """A command cannot go on as configured (a setting, the API key, a run that failed); the message is the one
    line it ends with (exit status 1)."""


def _demo(args: argparse.Namespace) -> int:
    from endobench.defs.resources import describe_settings
    from endobench.demo import demo_resources, run_demo
    from endobench.demo_progress import DemoProgress

    resources = demo_resources(Path(args.data_dir) if args.data_dir else None, args.predictor)
    print(f"endobench demo: {describe_settings(resources)}", flush=True)
    summary = run_demo(release=args.release, force=args.force, resources=resources, progress=DemoProgress())
    runs = len(summary["runs"])
    done = f"{runs} runs" if runs else "nothing to run, every asset up to date"
    print(f"endobench demo finished in {summary['seconds']:.0f} s ({done}; "
          f"{summary['evaluations']} evaluation(s) of the automation conditions)")
    print(f"report: {summary['report']}")
    for line in headline_lines(summary["metrics"]):
        print(line)
    print("open the UI with: make ui   (http://127.0.0.1:3000)")
    return 0


def headline_lines(metrics: dict) -> list[str]:
    """The headline as a compact table (`console.console_lines`), then the warnings."""
    from endobench.lib.evaluation.console import WIDTH, console_lines, wrap

    return console_lines(metrics) + [line for warning in metrics.get("warnings", [])
                                     for line in wrap(f"  warning: {warning}", WIDTH, "    ")]


def load_or_train_model(model_path: Path, sample_dir: Path):
    """The trained local model (cross-fitted by chromosome parity); trained from the bundled sample and saved if
    absent."""
    from endobench.lib.model.crossfit import CrossFittedModel
    from endobench.lib.model.training import TrainingInputs, train_cross_fitted

    if model_path.exists():
        return CrossFittedModel.load(model_path)
    print(f"{model_path} does not exist: training the local model from {sample_dir} ...", file=sys.stderr)
    model, _ = train_cross_fitted(TrainingInputs.sample(sample_dir))
    model.save(model_path)
    return model


def _score_pairs(args: argparse.Namespace) -> int:
    from endobench.lib.io.atomic import check_output_file
    from endobench.lib.model.pairs import describe_counts, score_fasta_pairs

    check_output_file(Path(args.out), inputs=[Path(args.ref), Path(args.alt), Path(args.model)], table=True)
    counts = score_fasta_pairs(Path(args.ref), Path(args.alt), Path(args.out), lambda: _pair_scorer(args))
    print(f"{args.out}: {describe_counts(counts)}")
    return 0


def _pair_scorer(args: argparse.Namespace):
    """What scores the pairs: the local model (trained from the sample if absent) or the JASPAR motif scan."""
    if args.predictor == "motif":
        from endobench.lib.motifs.library import load_jaspar
        from endobench.lib.motifs.pairs import MotifPairScorer

        return MotifPairScorer(load_jaspar())
    return load_or_train_model(Path(args.model), Path(args.sample_dir))


def _score_variants(args: argparse.Namespace) -> int:
    from endobench.score_variants import run

    return run(args)


def _evaluate(args: argparse.Namespace) -> int:
    from endobench.lib.evaluation.evaluate import evaluate_table

    result = evaluate_table(
        Path(args.table), args.effect_col, args.score_col, Path(args.out),
        id_col=args.id_col, predictions=Path(args.predictions) if args.predictions else None, unit_col=args.unit_col,
    )
    print(f"metrics: {result.metrics_path}")
    print(f"report: {result.html_path}")
    for line in evaluate_lines(result.metrics):
        print(line)
    for warning in result.warnings:
        print(f"  warning: {warning}")
    return 0


def p_text(value: object) -> str:
    """`p=3.1e-09`, or `p < 1e-300` where the p-value is a bound."""
    from endobench.lib.evaluation.render import pvalue

    text = pvalue(value)
    return f"p {text}" if text.startswith("<") else f"p={text}"


def evaluate_lines(metrics: dict) -> list[str]:
    """What `evaluate` prints: rows and units, the primary endpoint and each metric rounded with its 95% interval and
    p, the power, the exclusions; below the minimum of units, that instead of numbers (as everywhere)."""
    from endobench.lib.evaluation.metrics import MIN_UNITS, too_few
    from endobench.lib.evaluation.render import num, with_ci

    n, n_units, minimum = (int(metrics.get("n") or 0), int(metrics.get("n_units") or 0),
                           int(metrics.get("min_units", MIN_UNITS)))
    lines = [f"  n: {n:,} rows in {n_units:,} units of resampling"]
    if n_units < minimum:
        lines.append(f"  {too_few(n_units, minimum)}")
    else:
        primary = metrics.get("primary") or {}
        lines.append(f"  primary endpoint, {primary.get('metric')} on units oriented by their measured effect: "
                     f"{with_ci({'value': primary.get('value'), 'value_ci': primary.get('ci')}, 'value')}, "
                     f"{p_text(primary.get('p'))} ({primary.get('test')})")
        for name, key, p in (("Spearman", "spearman", "spearman_p"), ("Pearson", "pearson", "pearson_p"),
                             ("sign agreement", "sign_agreement", None), ("sign auROC", "sign_auroc", None)):
            lines.append(f"  {name}: {with_ci(metrics, key)}" + (f", {p_text(metrics.get(p))} (over units)"
                                                                  if p else ""))
        lines.append(f"  mde: {num(metrics.get('mde'))} (the Spearman these units detect with 80% power at two-sided "
                     "0.05); intervals: 95%, cluster bootstrap over units (the primary endpoint's: exact)")
    excluded = metrics.get("excluded") or {}
    lines.append("  excluded: " + (", ".join(f"{reason}={n:,}" for reason, n in excluded.items()) or "none"))
    return lines


def _ui(args: argparse.Namespace) -> int:
    """Start `dagster dev` on loopback with the demo's persistent Dagster home, so materialisations show."""
    import os

    from endobench.demo import prepare_dagster_home

    home = prepare_dagster_home(Path(args.data_dir or os.environ.get("ENDOBENCH_DATA_DIR") or "data"))
    command = [
        str(Path(sys.executable).with_name("dagster")), "dev", "-h", args.host, "-p", str(args.port),
        "-w", "workspace.yaml",
    ]
    print(f"DAGSTER_HOME={home}; serving on http://{args.host}:{args.port}", file=sys.stderr)
    os.execvpe(command[0], command, {**os.environ, "DAGSTER_HOME": str(home)})
    return 0


def _build_sample_reference(args: argparse.Namespace) -> int:
    from endobench.lib.genome.sample_reference import SampleReferenceInputs, build_sample_reference

    from endobench.lib.io.atomic import check_output_file

    inputs = SampleReferenceInputs.from_dir(Path(args.sample_dir))
    check_output_file(Path(args.out), inputs=inputs.files())
    excluded = build_sample_reference(inputs, Path(args.out))
    print(f"wrote {args.out}; dsQTL contexts not placed or corrected: {dict(excluded) or 'none'}")
    return 0


def _release(name: str) -> str:
    """A GTEx release name such as `v8`, in the range the release listing accepts; never a made-up partition."""
    from endobench.lib.truth_sets.releases import release_number

    try:
        release_number(name)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc
    return name


SCORE_VARIANTS_EPILOG = """\
columns:
  chrom pos ref alt   required; 1-based positions on hg38 (1 is chr1, x is chrX, MT is chrM)
  gene_id             optional: a row naming a gene is also scored for expression (the gene's own score)
  biosample           optional: the ontology CURIE whose track a row is read on (EFO:0002784 for GM12878
                      DNase, UBERON:0001114 for GTEx Liver RNA-seq, or a GTEx tissue name such as Liver);
                      a biosample without a track in AlphaGenome's catalogue is failed, no_track_for_biosample
default tracks (rows without a biosample; ENDOBENCH_ALPHAGENOME_DNASE_ONTOLOGY / _RNA_ONTOLOGY change them):
  accessibility       EFO:0002067 DNase-seq (K562)
  expression          UBERON:0013756 gtex Whole_Blood polyA plus RNA-seq (GTEx Whole Blood)
AlphaGenome:
  ALPHAGENOME_API_KEY            the key (required; never printed or written)
  ENDOBENCH_ALPHAGENOME_ADDRESS  the server: empty for the public endpoint, 127.0.0.1:PORT for a local one
  ENDOBENCH_ALPHAGENOME_*        the other settings (docs/alphagenome.md); the score cache is the graph's
  ENDOBENCH_ALPHAGENOME_ATLAS    on (default): SNVs are read from the AlphaGenome Atlas's precomputed scores
                                 when the configuration is its own (ALL_FOLDS, 1 MB); off: the live model only.
                                 The output's source column says atlas or live; avi_score is an SNV's AVI score
  Before any paid call a free preflight checks the key and resolves every track against the server's
  catalogue; an unknown track name stops the run naming the closest real names.
exit status:
  0  every input row has its outcome written (or, with --dry-run, the plan was printed)
  1  the run was stopped: the key empty or refused, the server unreachable, a track unknown, a setting
     out of range, or the first variants all rejected alike (nothing of them is cached)
  2  bad input: an unreadable file, a missing column (one line names the file and line)
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="endobench", description=__doc__.splitlines()[0])
    parser.add_argument("--debug", action="store_true", help="on failure, also print the Python traceback")
    sub = parser.add_subparsers(dest="command", required=True)

    demo = sub.add_parser("demo", help="materialise the whole asset graph on the bundled sample (offline)")
    demo.add_argument("--data-dir", default=None,
                      help="holds sample/ and receives outputs/ and dagster_home/ (default: ENDOBENCH_DATA_DIR, "
                           "else data)")
    demo.add_argument("--release", default="v8", type=_release, help="GTEx release (v8 is bundled)")
    demo.add_argument("--predictor", default=None, choices=["local", "alphagenome", "motif"],
                      help="default: ENDOBENCH_PREDICTOR, else local")
    demo.add_argument("--force", action="store_true", help="materialise every asset again, even those up to date")
    demo.set_defaults(func=_demo)

    pairs = sub.add_parser("score-pairs", help="score same-named records of two FASTA files with the local model "
                                               "(the mean of its two cross-fitted models: a pair has no chromosome) "
                                               "or the JASPAR motif baseline")
    pairs.add_argument("--predictor", default="local", choices=["local", "motif"],
                       help="local: the k-mer model; motif: the strongest JASPAR site the pair makes or breaks where "
                            "its sequences differ, every profile (a pair has no biosample)")
    pairs.add_argument("--ref", required=True, help="FASTA of reference-allele sequences")
    pairs.add_argument("--alt", required=True, help="FASTA of alternative-allele sequences, same record names")
    pairs.add_argument("--out", required=True,
                       help=".tsv, .csv or .parquet (the format its name says): name, score_ref, score_alt, delta")
    pairs.add_argument("--model", default=str(DEFAULT_MODEL),
                       help="--predictor local: trained model (.npz); trained if absent")
    pairs.add_argument("--sample-dir", default="data/sample",
                       help="--predictor local: bundled data used to train a missing model")
    pairs.set_defaults(func=_score_pairs)

    variants = sub.add_parser(
        "score-variants", help="score a variant list with the configured predictor and cache",
        description="Score a variant list with the graph's predictor, settings and score cache.",
        epilog=SCORE_VARIANTS_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    variants.add_argument("--variants", required=True,
                          help="TSV, CSV or parquet: chrom pos ref alt (1-based, hg38), optional gene_id and biosample")
    variants.add_argument("--predictor", required=True, choices=["local", "alphagenome", "motif"])
    variants.add_argument("--out", required=True,
                          help=".parquet, .tsv or .csv (the format its name says): one row per input row and readout")
    variants.add_argument("--cache-dir", default=None, help="score cache (default: the graph's, data/cache)")
    variants.add_argument("--reference", default=None,
                          help="hg38 FASTA (bgzip or plain, indexed) to check REF against; the local model reads "
                               "the data sources' reference without it, AlphaGenome rows then go unchecked")
    variants.add_argument("--dry-run", action="store_true",
                          help="print the plan (distinct variants, cached, from the AlphaGenome Atlas, to request "
                               "live, calls and estimated wall time of each) after the free preflight, make no paid "
                               "call and write nothing")
    variants.set_defaults(func=_score_variants)

    evaluate = sub.add_parser("evaluate", help="benchmark an external predictions table with endobench's metrics")
    evaluate.add_argument("--table", required=True, help="CSV, TSV, parquet or feather (truth and scores)")
    evaluate.add_argument("--effect-col", required=True, help="measured signed effect (slope, beta)")
    evaluate.add_argument("--score-col", required=True, help="predicted effect")
    evaluate.add_argument("--id-col", default=None, help="variant id column (needed with --predictions)")
    evaluate.add_argument("--predictions", default=None, help="a separate predictions file joined on --id-col")
    evaluate.add_argument("--unit-col", default=None,
                          help="the independent unit (e.g. gene_id for variant-gene pairs): resampled as a whole, "
                               "p-values over unit means; default: each row (or id) is its own unit")
    evaluate.add_argument("--out", required=True, help="output folder for metrics.json and the report")
    evaluate.set_defaults(func=_evaluate)

    ui = sub.add_parser("ui", help="start the Dagster UI on the demo's instance (loopback only by default)")
    ui.add_argument("--data-dir", default=None,
                    help="the demo's data folder, whose dagster_home/ it serves (default: ENDOBENCH_DATA_DIR, else data)")
    ui.add_argument("--host", default="127.0.0.1", help="bind address; keep loopback unless you mean it")
    ui.add_argument("--port", type=int, default=3000)
    ui.set_defaults(func=_ui)

    reference = sub.add_parser("build-sample-reference", help="rebuild data/sample/hg38_sample_segments.fa")
    reference.add_argument("--sample-dir", default="data/sample")
    reference.add_argument("--out", default="data/sample/hg38_sample_segments.fa")
    reference.set_defaults(func=_build_sample_reference)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one subcommand; any failure ends in one line on stderr (and the traceback with `--debug`)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv  # accepted before or after the subcommand, so every subcommand has it
    args = build_parser().parse_args([a for a in argv if a != "--debug"])
    try:
        return args.func(args)
    except KeyboardInterrupt:
        print(f"endobench {args.command}: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        if debug:
            traceback.print_exc()
        print(f"endobench {args.command}: {failure_line(exc, debug)}", file=sys.stderr)
        return 2 if isinstance(exc, InputError) else 1


def failure_line(exc: BaseException, debug: bool = False) -> str:
    """One line saying what failed: the message of our own errors, the file and reason of an OS error, and for
    anything unexpected its type, with a pointer to `--debug`."""
    from endobench.lib.io.downloads import DownloadError

    if isinstance(exc, (InputError, DownloadError, CommandStopped)):
        text = str(exc)
    elif isinstance(exc, OSError) and exc.errno == errno.ELOOP:
        text = f"{exc.filename or 'a path'} is a symbolic link loop (following it leads back to itself): remove the " \
               "link or point it at a real file or folder"
    elif isinstance(exc, OSError):
        where = f" {exc.filename}" if exc.filename else ""
        text = f"{exc.strerror or exc}:{where}" + "".join(f" {note}" for note in getattr(exc, "__notes__", []))
    else:
        text = f"unexpected {type(exc).__name__}: {exc}"
        if not debug:
            text += " (run again with --debug for the traceback, and please report it)"
    return " ".join(text.split())


if __name__ == "__main__":
    sys.exit(main())
