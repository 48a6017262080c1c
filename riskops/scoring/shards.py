"""Batch scoring that scales out: a cohort split into N shards by a hash of the customer id, each scored on its
own (a parallel KFP task per shard, `dsl.ParallelFor`), then gathered into the cohort's tables. Every shard
scores with the same model version, the same resolved policy and the same typical customer (the model's
holdout), so the gathered list is the one a single task would write; the review capacity is applied once, to
the gathered list. With one shard the cohort is scored in place and nothing is copied.
"""

from __future__ import annotations

from datetime import date

import pyarrow as pa

from riskops.core.errors import RiskOpsError
from riskops.core.names import ident
from riskops.data.contract import Table, table_name
from riskops.io.artifacts import ArtifactStore
from riskops.io.warehouse.base import Warehouse
from riskops.model.registry import Registry
from riskops.scoring.offboard import ScoringResult, limit_list, score_cohort, skipped_rules
from riskops.scoring.policy import BookTraits, OffboardConfig, model_policy

PARTS: tuple[Table, ...] = ("customers", "transactions")  # the views a shard reads
# The tables a shard writes and the gather unites; the features' cut-off first, as build_features writes it.
OUTPUTS: tuple[Table, ...] = ("features_cutoff", "features", "scores", "offboarding")


def shard_name(cohort: str, shard: int, shards: int) -> str:
    """The pseudo-cohort a shard's tables are named by (`<cohort>_s<k>of<n>_*`); the cohort itself for one."""
    if not 0 <= shard < shards:
        raise ValueError(f"shard {shard} is not one of {shards} shards (0 to {shards - 1})")
    return cohort if shards == 1 else f"{cohort}_s{shard}of{shards}"


def score_shard(
    wh: Warehouse,
    store: ArtifactStore,
    as_of: date,
    cohort: str,
    shard: int,
    shards: int,
    version: str,
    cfg: OffboardConfig | None = None,
) -> ScoringResult:
    """Score one shard of a validated cohort with model `version` (views over the cohort's clean tables, so
    the features are built for that shard's customers only). The capacity waits for the gather."""
    name = shard_name(cohort, shard, shards)
    if shards > 1:
        where = wh.shard_predicate(ident("customer_id"), shards, shard)
        for part in PARTS:
            wh.execute(
                f"CREATE OR REPLACE VIEW {wh.ref(table_name(name, part))} AS "
                f"SELECT * FROM {wh.ref(table_name(cohort, part))} WHERE {where}"
            )
    policy = cfg or model_policy(store, Registry(store).card(version))
    return score_cohort(wh, store, as_of, name, policy.uncapped(), version)


def gather(
    wh: Warehouse,
    store: ArtifactStore,
    cohort: str,
    shards: int,
    versions: list[str],
    cfg: OffboardConfig | None = None,
) -> ScoringResult:
    """Unite the shards' features, scores and lists into the cohort's tables (dropping the shards'), apply the
    review capacity to the whole list, and return the cohort's scoring result."""
    if len(set(versions)) != 1 or len(versions) != shards:
        raise RiskOpsError(
            f"the {shards} shards were scored with models {sorted(set(versions))} ({len(versions)} results)",
            f"the scoring of cohort {cohort}",
            "score the run again: the champion changed while its shards ran",
        )
    if shards > 1:
        names = [shard_name(cohort, k, shards) for k in range(shards)]
        for out in OUTPUTS:
            union = " UNION ALL ".join(f"SELECT * FROM {wh.ref(table_name(n, out))}" for n in names)
            wh.execute(f"CREATE OR REPLACE TABLE {wh.ref(table_name(cohort, out))} AS {union}")
        for n in names:
            for t in (*OUTPUTS, *PARTS):
                wh.drop(table_name(n, t))
    registry = Registry(store)
    card = registry.card(versions[0])
    policy = cfg.resolved(card) if cfg else model_policy(store, card)
    scores = wh.read_table(table_name(cohort, "scores")).to_pandas()
    listing = wh.read_table(table_name(cohort, "offboarding")).to_pandas()
    offboard = scores["offboard"].to_numpy(dtype=bool).copy()
    over, limit, costs = limit_list(offboard, scores["score"].to_numpy(), policy, card)
    if over:
        scores["offboard"] = offboard
        listing = listing[listing["customer_id"].isin(set(scores.loc[offboard, "customer_id"]))]
        wh.load(table_name(cohort, "scores"), pa.Table.from_pandas(scores, preserve_index=False))
        wh.load(table_name(cohort, "offboarding"), pa.Table.from_pandas(listing, preserve_index=False))
    listing = listing.sort_values(["score", "customer_id"], ascending=[False, True], kind="stable")
    return ScoringResult(
        scores=scores.sort_values("customer_id", kind="stable").reset_index(drop=True),
        offboarding=listing.reset_index(drop=True),
        cutoffs={"high": policy.high, "medium": policy.medium},
        model_version=card.version,
        rules_skipped=skipped_rules(policy, list(wh.columns(table_name(cohort, "features"))), BookTraits.of(card)),
        seconds={},
        policy=policy,
        over_limit=over,
        list_limit=limit,
        expected_costs=costs,
    )
