"""The local accessibility model, trained from the bundled data and evaluated on held-out chromosomes."""

from pathlib import Path

import dagster as dg

from endobench.defs.automation import UP_TO_DATE
from endobench.defs.code_versions import source_code_version
from endobench.defs.metadata import rounded, table_metadata
from endobench.resources.sources import DataSources
from endobench.resources.storage import Storage


@dg.asset(group_name="model", kinds={"scikitlearn"}, automation_condition=UP_TO_DATE,
          code_version=source_code_version("1", __name__))
def local_model(context: dg.AssetExecutionContext, sources: DataSources, storage: Storage) -> dg.MaterializeResult:
    """A gapped k-mer (deltaSVM-class) DNase accessibility model: no network, no downloaded weights.

    Trained on the real 100-bp allele contexts of the dsQTLs on the odd chromosomes (a paired high-vs-low
    allele objective, plus gapped k-mer enrichment against matched Markov background), then evaluated on the
    dsQTLs of the even chromosomes, which it never saw. No chr22/chr2 segment material is used for training.
    The weights are written where the `LocalPredictor` resource reads them.
    """
    # Imported here, not at the top: scipy.stats, scikit-learn and matplotlib cost every run process about 2 s of
    # start-up, and only this asset's runs use them (each prediction partition is a run of its own).
    from endobench.lib.model.held_out import evaluate_held_out
    from endobench.lib.model.training import (
        HELD_OUT_CHROMOSOMES,
        TRAINING_CHROMOSOMES,
        TrainingInputs,
        train_local_model,
    )
    inputs = TrainingInputs.sample(Path(sources.sample_dir))
    model, summary = train_local_model(inputs, TRAINING_CHROMOSOMES)
    evaluation = evaluate_held_out(model, inputs, HELD_OUT_CHROMOSOMES)
    path = storage.local_model_path()
    model.save(path)
    context.log.info(
        f"held-out dsQTLs: n={evaluation.n:,}, sign auROC {evaluation.sign_auroc:.3f} "
        f"[{evaluation.sign_auroc_ci[0]:.3f}, {evaluation.sign_auroc_ci[1]:.3f}]"
    )
    return dg.MaterializeResult(
        metadata=rounded({
            **table_metadata(path, evaluation.n),
            "model_name": model.name,
            "fingerprint": model.fingerprint(),
            "flank": model.flank,
            "train_chromosomes": ", ".join(evaluation.train_chromosomes),
            "test_chromosomes": ", ".join(evaluation.test_chromosomes),
            "held_out_n": evaluation.n,
            "held_out_not_served": evaluation.n_not_served,
            "n_train_dsqtls": int(summary.get("n_train_dsqtls", 0)),
            "held_out_sign_auroc": evaluation.sign_auroc,
            "held_out_sign_auroc_ci_low": evaluation.sign_auroc_ci[0],
            "held_out_sign_auroc_ci_high": evaluation.sign_auroc_ci[1],
            "held_out_pearson": evaluation.pearson,
            "held_out_pearson_ci": f"[{evaluation.pearson_ci[0]:.3f}, {evaluation.pearson_ci[1]:.3f}]",
            "held_out_spearman": evaluation.spearman,
            "held_out_spearman_ci": f"[{evaluation.spearman_ci[0]:.3f}, {evaluation.spearman_ci[1]:.3f}]",
            "held_out_sign_agreement": evaluation.sign_agreement,
            "training_summary": dg.MetadataValue.json({k: str(v) for k, v in summary.items()}),
        })
    )
