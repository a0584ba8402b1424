"""Where assets write their files: one folder per asset, one file per partition, written atomically."""

from __future__ import annotations

import json
import re
from pathlib import Path

import dagster as dg
import pandas as pd
import pyarrow as pa

from endobench.lib.io.atomic import atomic_path, write_parquet, write_text
from endobench.lib.io.tables import frame_from_arrow, read_parquet_table
from endobench.lib.model import model_path


class Storage(dg.ConfigurableResource):
    """The output tree (git-ignored). Downstream assets read upstream files through the same paths."""

    root: str = "data/outputs"
    cache_dir: str = "data/cache"

    def local_model_path(self) -> Path:
        """Where the `local_model` asset writes the trained weights and the local predictor reads them."""
        return model_path(self.root)

    def asset_dir(self, asset: str) -> Path:
        path = Path(self.root) / asset
        path.mkdir(parents=True, exist_ok=True)
        return path

    def table_path(self, asset: str, partition: str | None = None) -> Path:
        return self.asset_dir(asset) / f"{_file_name(partition or 'all')}.parquet"

    def write_table(self, table: pd.DataFrame | pa.Table, asset: str, partition: str | None = None) -> Path:
        """A pandas frame, or an Arrow table whose dictionary-encoded text is written as codes (`write_parquet`)."""
        return write_parquet(table, self.table_path(asset, partition))

    def read_table(self, asset: str, partition: str | None = None, columns: list[str] | None = None) -> pd.DataFrame:
        """The asset's table (only `columns`, when given: checks that read a column of 2.4 M rows read just that);
        text comes back as Python strings however it was written."""
        return frame_from_arrow(self.read_arrow(asset, partition, columns))

    def read_arrow(self, asset: str, partition: str | None = None, columns: list[str] | None = None) -> pa.Table:
        """The asset's table as Arrow, text written dictionary-encoded still as codes: for the 2.4 M-row tables."""
        path = self.table_path(asset, partition)
        if not path.exists():
            raise dg.Failure(
                f"{asset} has no output at {path} for partition {partition or '(unpartitioned)'}: "
                f"materialize {asset} for that partition first",
                allow_retries=False,
            )
        return read_parquet_table(path, columns)

    def write_bed(self, frame: pd.DataFrame, asset: str, partition: str | None = None) -> Path:
        """The intervals of an asset as a BED file beside its table (no header), for bedtools and genome browsers."""
        path = self.table_path(asset, partition).with_suffix(".bed")
        with atomic_path(path) as tmp:
            frame.to_csv(tmp, sep="\t", header=False, index=False)
        return path

    def configuration_path(self, asset: str, partition: str, configuration: str) -> Path:
        """One file per partition and configuration, so several predictors, tracks or interval lengths scored
        for the same partition sit side by side instead of overwriting each other."""
        slug = re.sub(r"[^A-Za-z0-9._-]+", "_", configuration).strip("_")
        folder = self.asset_dir(asset) / _file_name(partition)
        folder.mkdir(parents=True, exist_ok=True)
        return folder / f"{slug}.parquet"

    def configuration_tables(self, asset: str, partition: str) -> list[Path]:
        folder = Path(self.root) / asset / _file_name(partition)  # not asset_dir: reading creates no folder
        return sorted(folder.glob("*.parquet")) if folder.is_dir() else []

    def stats_path(self, asset: str, partition: str | None = None) -> Path:
        return self.table_path(asset, partition).with_suffix(".stats.json")

    def write_stats(self, stats: dict, asset: str, partition: str | None = None) -> Path:
        """Counts that later assets need for the funnel (rows read, exclusions by reason), beside the table."""
        return write_text(json.dumps(stats, indent=1, sort_keys=True, default=int), self.stats_path(asset, partition))

    def read_stats(self, asset: str, partition: str | None = None) -> dict:
        path = self.stats_path(asset, partition)
        return json.loads(path.read_text()) if path.exists() else {}

    def cache_path(self) -> Path:
        path = Path(self.cache_dir)
        path.mkdir(parents=True, exist_ok=True)
        return path


def _file_name(partition: str) -> str:
    """A partition key as a relative path: one folder level per dimension, so the release x chromosome partition
    `v8|chr1` is `v8/chr1`, read as the UI shows its dimensions (release, then chromosome)."""
    return "/".join(partition.split("|"))
