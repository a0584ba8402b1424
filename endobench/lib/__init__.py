"""Pure logic with no Dagster import, grouped by domain:

- `io`: atomic writes, downloads, table and FASTA readers, `InputError`;
- `genome`: builds, reference sequence, liftover, peaks, intervals, variant windows;
- `truth_sets`: GTEx, generic and fine-mapped QTL tables, releases, the shared schema;
- `model`: the local gapped k-mer model (features, training, held-out evaluation);
- `evaluation`: metrics, diagnostics, plots, the report, `evaluate`;
- `scoring`: the score cache and the rate limiter used by remote predictors.
"""
