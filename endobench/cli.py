"""The `endobench` command: run the demo, score allele pairs, evaluate external predictions, rebuild the sample.

Every subcommand turns bad input (`InputError`) into one readable line on stderr and exit status 2, never a
traceback.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from endobench.lib.io.errors import InputError

DEFAULT_MODEL = Path("data/outputs/local_model/local_dnase_model.npz")


def _demo(args: argparse.Namespace) -> int:
    from endobench.demo import run_demo

    summary = run_demo(Path(args.data_dir), release=args.release, predictor=args.predictor, force=args.force)
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
    """One line per (truth set, readout, configuration) of the report's headline numbers."""
    lines = []
    for key, numbers in sorted(metrics.get("headline", {}).items()):
        parts = [f"n={numbers.get('n', 0):,}"]
        for name in ("spearman", "pearson", "sign_auroc"):
            value = numbers.get(name)
            parts.append(f"{name}={value:.3f}" if isinstance(value, (int, float)) else f"{name}=n/a")
        lines.append(f"  {key}: " + "  ".join(parts))
    for warning in metrics.get("warnings", []):
        lines.append(f"  warning: {warning}")
    return lines


def load_or_train_model(model_path: Path, sample_dir: Path):
    """The trained local model; trained from the bundled sample (odd chromosomes) and saved if absent."""
    from endobench.lib.model.gkm import LocalDnaseModel
    from endobench.lib.model.training import ODD_CHROMOSOMES, TrainingInputs, train_local_model

    if model_path.exists():
        return LocalDnaseModel.load(model_path)
    print(f"{model_path} does not exist: training the local model from {sample_dir} ...", file=sys.stderr)
    model, _ = train_local_model(TrainingInputs.sample(sample_dir), ODD_CHROMOSOMES)
    model.save(model_path)
    return model


def _score_pairs(args: argparse.Namespace) -> int:
    from endobench.lib.model.pairs import describe_counts, score_fasta_pairs

    model = load_or_train_model(Path(args.model), Path(args.sample_dir))
    counts = score_fasta_pairs(Path(args.ref), Path(args.alt), Path(args.out), model)
    print(f"{args.out}: {describe_counts(counts)}")
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    from endobench.lib.evaluation.evaluate import evaluate_table

    result = evaluate_table(
        Path(args.table), args.effect_col, args.score_col, Path(args.out),
        id_col=args.id_col, predictions=Path(args.predictions) if args.predictions else None,
    )
    metrics = result.metrics
    print(f"metrics: {result.metrics_path}")
    print(f"report: {result.html_path}")
    for name in ("n", "spearman", "spearman_p", "pearson", "pearson_p"):
        if name in metrics:
            print(f"  {name}: {metrics[name]}")
    for warning in result.warnings:
        print(f"  warning: {warning}")
    return 0


def _ui(args: argparse.Namespace) -> int:
    """Start `dagster dev` on loopback with the demo's persistent Dagster home, so materialisations show."""
    import os

    from endobench.demo import prepare_dagster_home

    home = prepare_dagster_home(Path(args.data_dir))
    command = [
        str(Path(sys.executable).with_name("dagster")), "dev", "-h", args.host, "-p", str(args.port),
        "-w", "workspace.yaml",
    ]
    print(f"DAGSTER_HOME={home}; serving on http://{args.host}:{args.port}", file=sys.stderr)
    os.execvpe(command[0], command, {**os.environ, "DAGSTER_HOME": str(home)})
    return 0


def _build_sample_reference(args: argparse.Namespace) -> int:
    from endobench.lib.genome.sample_reference import SampleReferenceInputs, build_sample_reference

    excluded = build_sample_reference(SampleReferenceInputs.from_dir(Path(args.sample_dir)), Path(args.out))
    print(f"wrote {args.out}; dsQTL contexts not placed or corrected: {dict(excluded) or 'none'}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="endobench", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    demo = sub.add_parser("demo", help="materialise the whole asset graph on the bundled sample (offline)")
    demo.add_argument("--data-dir", default="data", help="holds sample/ and receives outputs/ and dagster_home/")
    demo.add_argument("--release", default="v8")
    demo.add_argument("--predictor", default="local", choices=["local", "alphagenome"])
    demo.add_argument("--force", action="store_true", help="materialise every asset again, even those up to date")
    demo.set_defaults(func=_demo)

    pairs = sub.add_parser("score-pairs", help="score same-named records of two FASTA files with the local model")
    pairs.add_argument("--ref", required=True, help="FASTA of reference-allele sequences")
    pairs.add_argument("--alt", required=True, help="FASTA of alternative-allele sequences, same record names")
    pairs.add_argument("--out", required=True, help="TSV: name, score_ref, score_alt, delta")
    pairs.add_argument("--model", default=str(DEFAULT_MODEL), help="trained model (.npz); trained if absent")
    pairs.add_argument("--sample-dir", default="data/sample", help="bundled data used to train a missing model")
    pairs.set_defaults(func=_score_pairs)

    evaluate = sub.add_parser("evaluate", help="benchmark an external predictions table with endobench's metrics")
    evaluate.add_argument("--table", required=True, help="CSV, TSV, parquet or feather (truth and scores)")
    evaluate.add_argument("--effect-col", required=True, help="measured signed effect (slope, beta)")
    evaluate.add_argument("--score-col", required=True, help="predicted effect")
    evaluate.add_argument("--id-col", default=None, help="variant id column (needed with --predictions)")
    evaluate.add_argument("--predictions", default=None, help="a separate predictions file joined on --id-col")
    evaluate.add_argument("--out", required=True, help="output folder for metrics.json and the report")
    evaluate.set_defaults(func=_evaluate)

    ui = sub.add_parser("ui", help="start the Dagster UI on the demo's instance (loopback only by default)")
    ui.add_argument("--data-dir", default="data")
    ui.add_argument("--host", default="127.0.0.1", help="bind address; keep loopback unless you mean it")
    ui.add_argument("--port", type=int, default=3000)
    ui.set_defaults(func=_ui)

    reference = sub.add_parser("build-sample-reference", help="rebuild data/sample/hg38_sample_segments.fa")
    reference.add_argument("--sample-dir", default="data/sample")
    reference.add_argument("--out", default="data/sample/hg38_sample_segments.fa")
    reference.set_defaults(func=_build_sample_reference)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except InputError as exc:
        print(f"endobench {args.command}: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
