"""From scored variants to numbers: metrics with intervals, diagnostics, plots, the report and `evaluate`."""
