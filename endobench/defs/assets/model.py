"""The local accessibility model, trained from the bundled data and cross-fitted by chromosome parity."""

from pathlib import Path

import dagster as dg

from endobench.defs.automation import UP_TO_DATE
from endobench.defs.code_versions import source_code_version
from endobench.defs.metadata import markdown_table, rounded, table_metadata
from endobench.resources.sources import DataSources
from endobench.resources.storage import Storage


@dg.asset(group_name="model", kinds={"scikitlearn"}, automation_condition=UP_TO_DATE,
          code_version=source_code_version("2", __name__))
def local_model(context: dg.AssetExecutionContext, sources: DataSources, storage: Storage) -> dg.MaterializeResult:
    """A gapped k-mer (deltaSVM-class) DNase accessibility model of GM12878 (LCL): no network, no downloaded weights.

    Cross-fitted by chromosome parity: one model is trained on the real 100-bp allele contexts of the dsQTLs on the
    odd autosomes, one on those of the even autosomes (a paired high-vs-low allele objective, plus gapped k-mer
    enrichment against matched Markov background), and each scores the chromosomes the other trained on, so every
    dsQTL is held out. The metadata give the cross-fitted evaluation over all dsQTLs and each fold's half. The pair
    is written where the `LocalPredictor` resource reads it.
    """
    # Imported here, not at the top: scipy.stats, scikit-learn and matplotlib cost every run process about 2 s of
    # start-up, and only this asset's runs use them (each prediction partition is a run of its own).
    from endobench.lib.model.crossfit import EVEN, FOLD_CHROMOSOMES, ODD, SCORED_BY
    from endobench.lib.model.held_out import evaluate_held_out
    from endobench.lib.model.training import TrainingInputs, train_cross_fitted

    inputs = TrainingInputs.sample(Path(sources.sample_dir))
    model, summaries = train_cross_fitted(inputs)
    pooled = evaluate_held_out(model, inputs, FOLD_CHROMOSOMES[ODD] + FOLD_CHROMOSOMES[EVEN])
    # Each fold model on the chromosomes it never saw: the even model scores the odd autosomes, and the reverse.
    folds = {fold: evaluate_held_out(model, inputs, FOLD_CHROMOSOMES[other])
             for fold, other in ((ODD, EVEN), (EVEN, ODD))}
    path = model.save(storage.local_model_path())
    context.log.info(f"cross-fitted dsQTLs: n={pooled.n:,}, sign auROC {pooled.sign_auroc:.3f} "
                     f"[{pooled.sign_auroc_ci[0]:.3f}, {pooled.sign_auroc_ci[1]:.3f}], Pearson {pooled.pearson:.3f}")
    by_fold = [{"model": SCORED_BY[fold], "trained on": f"{summaries[fold]['n_train_dsqtls']:,} dsQTLs",
                "scores": ", ".join(e.test_chromosomes), "n": e.n, "sign auROC": e.sign_auroc,
                "Pearson": e.pearson, "Spearman": e.spearman} for fold, e in folds.items()]
    return dg.MaterializeResult(
        metadata=rounded({
            **table_metadata(path, pooled.n),
            "model_name": model.name,
            "biosample": "GM12878 (LCL) DNase: the Degner dsQTL contexts it learned from",
            "fingerprint": model.fingerprint(),
            "flank": model.flank,
            "cross_fitting": "by chromosome parity: every dsQTL is scored by the model that never saw its chromosome",
            "cross_fitted_n": pooled.n,
            "cross_fitted_not_served": pooled.n_not_served,
            "cross_fitted_sign_auroc": pooled.sign_auroc,
            "cross_fitted_sign_auroc_ci_low": pooled.sign_auroc_ci[0],
            "cross_fitted_sign_auroc_ci_high": pooled.sign_auroc_ci[1],
            "cross_fitted_pearson": pooled.pearson,
            "cross_fitted_pearson_ci": f"[{pooled.pearson_ci[0]:.3f}, {pooled.pearson_ci[1]:.3f}]",
            "cross_fitted_spearman": pooled.spearman,
            "cross_fitted_spearman_ci": f"[{pooled.spearman_ci[0]:.3f}, {pooled.spearman_ci[1]:.3f}]",
            "cross_fitted_sign_agreement": pooled.sign_agreement,
            "cross_fitted_sign_agreement_ci": f"[{pooled.sign_agreement_ci[0]:.3f}, {pooled.sign_agreement_ci[1]:.3f}]",
            "folds": dg.MetadataValue.md(markdown_table(by_fold)),
            "training_summary": dg.MetadataValue.json({fold: {k: str(v) for k, v in summary.items()}
                                                        for fold, summary in summaries.items()}),
        })
    )
