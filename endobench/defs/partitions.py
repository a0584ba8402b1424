"""Partitions: GTEx releases appear over time (dynamic); predictions also split by chromosome for backfills."""

from __future__ import annotations

import dagster as dg

from endobench.lib.genome.builds import PARTITION_CHROMOSOMES

GTEX_RELEASE_PARTITIONS_NAME = "gtex_release"
SAMPLE_RELEASE = "v8"

gtex_release_partitions = dg.DynamicPartitionsDefinition(name=GTEX_RELEASE_PARTITIONS_NAME)
chromosome_partitions = dg.StaticPartitionsDefinition(list(PARTITION_CHROMOSOMES))
release_chromosome_partitions = dg.MultiPartitionsDefinition(
    {"release": gtex_release_partitions, "chrom": chromosome_partitions}
)


def release_of(context: dg.AssetExecutionContext) -> str:
    key = context.partition_key
    if isinstance(key, dg.MultiPartitionKey):
        return key.keys_by_dimension["release"]
    return str(key)


def prediction_partition_key(release: str, chrom: str) -> dg.MultiPartitionKey:
    return dg.MultiPartitionKey({"release": release, "chrom": chrom})
