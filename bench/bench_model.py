"""Model core figures on the 200k-customer sample (~20M labelled transactions):

  features     the feature SQL in DuckDB: seconds, transactions/s, peak memory; against two floors: one
               hand-written GROUP BY (count/sum/mean/min/max/std per customer) over the same table, and the
               feature set's own per-transaction aggregates in one plain pass (no daily, counterparty or
               join stages)
  training     CatBoost on 100k customers, fixed parameters (500 trees, depth 6): seconds
  prediction   batch scoring of 1M customers: rows/s
  platform     training as the platform does it (CV folds + final fit, early stopping) on 30k customers against
               raw CatBoost fits growing the same trees on as many rows (ratio)
  scoring      segments, rules and SHAP reasons for 1M customers (riskops.scoring.offboard.score_frame): rows/s, peak;
               its predict part against CatBoost's own predict on the same rows in the same run (ratio)

Each phase runs in its own process so peak memory is its own.

    python bench/bench_model.py --customers 200000
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import OUT, ensure_dataset, peak_rss_mib, report, run_phase

FLOOR = """CREATE OR REPLACE TABLE main.floor_features AS
SELECT customer_id, COUNT(*) AS n, SUM(amount) AS s, AVG(amount) AS m, MIN(amount) AS lo, MAX(amount) AS hi,
       STDDEV_SAMP(amount) AS sd
FROM main.labelled_transactions GROUP BY customer_id"""


def _one_pass(fs: Any, cutoff: datetime) -> str:
    """The feature set's own per-transaction aggregates (its SQL, its flags) in one plain GROUP BY pass over the
    transactions, without the daily, counterparty and join stages: the floor the whole query is held to."""
    cut = (cutoff - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)
    flags = ", ".join(f"{sql} AS {name}" for name, sql in fs.flags.items())
    aggs = ",\n  ".join(f"{f.sql} AS {f.feature.name}" for f in fs.tx)
    rows = (
        f"SELECT *, {cut} - UNIX_MICROS(ts) AS age_us FROM main.labelled_transactions "
        f"WHERE ts < TIMESTAMP_MICROS({cut})"
    )
    return (
        f"CREATE OR REPLACE TABLE main.one_pass AS SELECT customer_id,\n  {aggs}\n"
        f"FROM (SELECT t.*, {flags} FROM ({rows}) AS t) GROUP BY customer_id"
    )


def _prepare(data: Path, db: Path) -> None:
    from riskops.data.ingest import ingest_cohort
    from riskops.data.sources import dataset_as_of, load_source
    from riskops.io.artifacts import LocalStore
    from riskops.io.warehouse.duckdb import DuckDBWarehouse

    with DuckDBWarehouse(db) as wh:
        load_source(wh, "raw_labelled_customers", data / "labelled" / "customers")
        load_source(wh, "raw_labelled_transactions", data / "labelled" / "transactions")
        ingest_cohort(wh, "labelled", date.fromisoformat(dataset_as_of(data)), LocalStore(OUT / "model-report"), "x")
    print(json.dumps({}))


def _features(db: Path, as_of: str) -> None:
    from riskops.data.contract import as_of_cutoff
    from riskops.features.engineering import build_features
    from riskops.io.warehouse.duckdb import DuckDBWarehouse

    cutoff = as_of_cutoff(date.fromisoformat(as_of))
    with DuckDBWarehouse(db) as wh:
        n = wh.count("labelled_transactions")
        t = time.perf_counter()
        fs = build_features(wh, "labelled", cutoff)
        feat_s = time.perf_counter() - t
        t = time.perf_counter()
        wh.con.execute(FLOOR)
        floor_s = time.perf_counter() - t
        t = time.perf_counter()
        wh.execute(_one_pass(fs, cutoff))
        one_pass_s = time.perf_counter() - t
    figures = {
        "transactions": n,
        "features": len(fs.names),
        "features_seconds": round(feat_s, 2),
        "floor_seconds": round(floor_s, 2),
        "one_pass_seconds": round(one_pass_s, 2),
        "peak_rss_mib": round(peak_rss_mib()),
    }
    print(json.dumps(figures))


def _model(db: Path) -> None:
    import numpy as np
    import pandas as pd
    from catboost import CatBoostClassifier, Pool

    from riskops.features.engineering import FeatureConfig, FeatureSet, attribute_kinds, read_features
    from riskops.io.warehouse.duckdb import DuckDBWarehouse
    from riskops.model.train import prepare

    with DuckDBWarehouse(db) as wh:
        fs = FeatureSet(FeatureConfig(), attribute_kinds(wh.columns("labelled_customers")))
        frame = read_features(wh, "labelled").head(100_000)
    ds = prepare(frame, fs.names, fs.categorical)
    model = CatBoostClassifier(
        iterations=500, depth=6, learning_rate=0.08, random_seed=0, verbose=False, allow_writing_files=False
    )
    t = time.perf_counter()
    model.fit(Pool(ds.X, ds.y, cat_features=ds.categorical))
    train_s = time.perf_counter() - t
    big = pd.concat([ds.X] * 10, ignore_index=True)
    t = time.perf_counter()
    p = model.predict_proba(Pool(big, cat_features=ds.categorical))[:, 1]
    pred_s = time.perf_counter() - t
    assert len(p) == 1_000_000 and np.isfinite(p).all()
    figures = {
        "train_rows": len(ds.y),
        "train_features": ds.X.shape[1],
        "train_seconds": round(train_s, 2),
        "predict_rows": len(p),
        "predict_seconds": round(pred_s, 2),
        "predict_rows_per_second": round(len(p) / pred_s),
        "peak_rss_mib": round(peak_rss_mib()),
    }
    print(json.dumps(figures))


def _train(db: Path) -> None:
    """The platform's training (CV folds and the final fit, early stopping; no tuning, no baselines) against raw
    CatBoost fits growing as many trees (early stopping grows its patience past the best tree), on as many rows,
    with the same parameters, in the same run."""
    import math

    from catboost import CatBoostClassifier, Pool

    import riskops.model.train as training
    from riskops.features.engineering import FeatureConfig, FeatureSet, attribute_kinds, read_features
    from riskops.io.warehouse.duckdb import DuckDBWarehouse
    from riskops.model.config import TrainConfig

    with DuckDBWarehouse(db) as wh:
        fs = FeatureSet(FeatureConfig(), attribute_kinds(wh.columns("labelled_customers")))
        frame = read_features(wh, "labelled").head(30_000)
    t = time.perf_counter()
    ds = training.prepare(frame, fs.names, fs.categorical)
    prepare_s = time.perf_counter() - t
    cfg = TrainConfig(folds=3, trials=0, baselines=False, imbalance="none", max_iterations=400)
    fits: list[tuple[int, dict[str, Any], int, int, int]] = []
    fit_catboost = training.fit_catboost

    def observed(*args: Any) -> Any:  # every fit still runs; this only notes its rows and trees
        model = fit_catboost(*args)
        idx, params, seed = args[1], args[2], args[5]
        grown = len(model.evals_result_["validation"][cfg.early_stopping_metric])  # kept + the patience trees
        fits.append((len(idx) - math.ceil(0.15 * len(idx)), params, seed, grown, model.tree_count_))
        return model

    training.fit_catboost = observed  # type: ignore[assignment]
    t = time.perf_counter()
    training.train(ds, cfg, say=lambda _: None)
    platform_s = time.perf_counter() - t + prepare_s
    training.fit_catboost = fit_catboost  # type: ignore[assignment]
    t = time.perf_counter()
    for rows, params, seed, trees, _ in fits:
        raw = CatBoostClassifier(
            iterations=trees,
            random_seed=seed,
            thread_count=cfg.thread_count,
            verbose=False,
            allow_writing_files=False,
            **params,
        )
        raw.fit(Pool(ds.X.iloc[:rows], ds.y[:rows], cat_features=ds.categorical))
    raw_s = time.perf_counter() - t
    figures = {
        "platform_train_seconds": round(platform_s, 2),
        "platform_fits": len(fits),
        "platform_trees_grown": sum(f[3] for f in fits),
        "platform_trees_kept": sum(f[4] for f in fits),
        "raw_fits_seconds_same_trees": round(raw_s, 2),
        "platform_vs_raw_fits": round(platform_s / raw_s, 2),
    }
    print(json.dumps(figures))


def _score(db: Path) -> None:
    import pandas as pd
    from catboost import CatBoostClassifier, Pool

    from riskops.features.engineering import FeatureConfig, FeatureSet, attribute_kinds, read_features
    from riskops.io.warehouse.duckdb import DuckDBWarehouse
    from riskops.model.inputs import align
    from riskops.model.registry import ModelCard
    from riskops.model.train import prepare
    from riskops.scoring.offboard import Glossary, score_frame, typical_values
    from riskops.scoring.policy import OffboardConfig

    with DuckDBWarehouse(db) as wh:
        fs = FeatureSet(FeatureConfig(), attribute_kinds(wh.columns("labelled_customers")))
        frame = read_features(wh, "labelled")
    ds = prepare(frame.head(50_000), fs.names, fs.categorical)
    model = CatBoostClassifier(iterations=300, depth=6, random_seed=0, verbose=False, allow_writing_files=False)
    model.fit(Pool(ds.X, ds.y, cat_features=ds.categorical))
    # Only the fields scoring reads; a registered model carries the full card.
    card = ModelCard.model_construct(
        version="bench",
        features=list(ds.X.columns),
        categorical=ds.categorical,
        dropped=ds.dropped,
        threshold=0.5,
        feature_config=fs.config.model_dump(),
    )
    reps = -(-1_000_000 // len(frame))
    big = pd.concat([frame.drop(columns=["label"])] * reps, ignore_index=True).head(1_000_000)
    big["customer_id"] = [f"S{i}" for i in range(len(big))]
    glossary = Glossary.of(fs)
    t = time.perf_counter()
    # The reasons' typical customer, as `score_cohort` takes it: the model's holdout (here labelled rows it was not
    # trained on), inside the timing.
    holdout = align(frame.iloc[50_000:70_000], card.features, card.categorical, list(card.dropped))
    typical = typical_values(holdout, card.categorical)
    result = score_frame(big, model, card, OffboardConfig(), glossary, typical)
    seconds = time.perf_counter() - t
    # The engine under it, same rows, same run: CatBoost's predict on the matrix the model was trained from.
    X = align(big, card.features, card.categorical, list(card.dropped))
    t = time.perf_counter()
    model.predict_proba(Pool(X, cat_features=card.categorical))
    raw_s = time.perf_counter() - t
    figures = {
        "raw_predict_seconds": round(raw_s, 2),
        "predict_vs_raw": round(result.seconds["predict"] / raw_s, 2),
        "score_with_reasons_vs_raw": round(raw_s / seconds, 2),
        "score_rows": len(big),
        "score_seconds": round(seconds, 2),
        "score_rows_per_second": round(len(big) / seconds),
        "offboarded_with_reasons": len(result.offboarding),
        "score_peak_rss_mib": round(peak_rss_mib()),
        "score_parts_s": result.seconds,
    }
    print(json.dumps(figures))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--customers", type=int, default=200_000)
    ap.add_argument("--phase", choices=["prepare", "features", "model", "train", "score"], help=argparse.SUPPRESS)
    ap.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--db", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--as-of", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.phase == "prepare":
        return _prepare(args.data, args.db)
    if args.phase == "features":
        return _features(args.db, args.as_of)
    if args.phase == "model":
        return _model(args.db)
    if args.phase == "train":
        return _train(args.db)
    if args.phase == "score":
        return _score(args.db)

    data = ensure_dataset(args.customers)
    as_of = json.loads((data / "manifest.json").read_text())["as_of"]
    db = OUT / "model.duckdb"
    db.unlink(missing_ok=True)
    print("load + ingest ...", flush=True)
    run_phase(__file__, "--phase", "prepare", "--data", str(data), "--db", str(db))
    print("features ...", flush=True)
    f = run_phase(__file__, "--phase", "features", "--db", str(db), "--as-of", as_of)
    print("training + prediction ...", flush=True)
    m = run_phase(__file__, "--phase", "model", "--db", str(db))
    print("the platform's training against raw fits ...", flush=True)
    tr = run_phase(__file__, "--phase", "train", "--db", str(db))
    print("scoring with reasons ...", flush=True)
    sc = run_phase(__file__, "--phase", "score", "--db", str(db))
    n = int(f["transactions"])
    report(
        "model",
        {
            "transactions": n,
            "features": f["features"],
            "features_seconds": f["features_seconds"],
            "features_transactions_per_second": round(n / f["features_seconds"]),
            "floor_group_by_seconds": f["floor_seconds"],
            "features_vs_floor": round(f["features_seconds"] / f["floor_seconds"], 2),
            "same_aggregates_one_pass_seconds": f["one_pass_seconds"],
            "features_vs_same_aggregates_one_pass": round(f["features_seconds"] / f["one_pass_seconds"], 2),
            "features_peak_rss_mib": f["peak_rss_mib"],
            "train_rows": m["train_rows"],
            "train_seconds_500_trees_depth_6": m["train_seconds"],
            "predict_rows": m["predict_rows"],
            "predict_rows_per_second": m["predict_rows_per_second"],
            "model_peak_rss_mib": m["peak_rss_mib"],
            "platform_train_seconds_30k_customers": tr["platform_train_seconds"],
            "platform_trees_grown_kept": [tr["platform_trees_grown"], tr["platform_trees_kept"]],
            "raw_fits_seconds_same_trees": tr["raw_fits_seconds_same_trees"],
            "platform_train_vs_raw_fits": tr["platform_vs_raw_fits"],
            "score_rows": sc["score_rows"],
            "score_with_reasons_rows_per_second": sc["score_rows_per_second"],
            "offboarded_with_reasons": sc["offboarded_with_reasons"],
            "score_parts_s": sc["score_parts_s"],
            "raw_predict_seconds_same_rows": sc["raw_predict_seconds"],
            "score_predict_vs_raw_predict": sc["predict_vs_raw"],
            "score_with_reasons_speed_vs_raw_predict": sc["score_with_reasons_vs_raw"],
            "score_peak_rss_mib": sc["score_peak_rss_mib"],
        },
    )
    db.unlink(missing_ok=True)


if __name__ == "__main__":
    main()
