"""The local gapped k-mer DNase model: features and scoring, training, held-out evaluation, scoring allele pairs."""
