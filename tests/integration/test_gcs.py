"""The gs:// artifact path, proven with the real google-cloud-storage client against gcp-storage-emulator."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pytest

from riskops.core.errors import ArtifactError
from riskops.data.contract import Mapping
from riskops.data.ingest import ingest_cohort
from riskops.io.artifacts import GCSStore, open_store
from riskops.io.warehouse.duckdb import DuckDBWarehouse
from tests.conftest import AS_OF, GOOD_CUSTOMERS, GOOD_TX, NOW

pytestmark = pytest.mark.integration


def test_round_trip_list_delete(gcs_endpoint: str) -> None:
    store = open_store("gs://riskops-it/prod", gcs_endpoint)
    assert isinstance(store, GCSStore)
    uri = store.write_text("run1/validation/report.json", '{"ok": true}')
    assert uri == "gs://riskops-it/prod/run1/validation/report.json"
    store.write_bytes("run1/model.cbm", b"\x00" * 1_000_000)
    assert store.read_bytes("run1/model.cbm") == b"\x00" * 1_000_000
    assert store.list("run1") == ["run1/model.cbm", "run1/validation/report.json"]
    assert store.exists("run1/model.cbm") and not store.exists("run1/other")
    store.delete("run1/model.cbm")
    store.delete("run1/model.cbm")  # deleting twice is fine
    assert store.list("run1") == ["run1/validation/report.json"]
    # A second prefix in the same bucket does not see the first.
    assert open_store("gs://riskops-it/dev", gcs_endpoint).list() == []


def test_versioned_read_and_conditional_write_on_the_bucket(gcs_endpoint: str) -> None:
    """The calls the champion pointer's compare-and-swap makes, on the real client (the emulator does not
    enforce generation preconditions, so the refusal itself is proven on the local store)."""
    store = open_store("gs://riskops-it/cas", gcs_endpoint)
    data, token = store.read_versioned("models/champion.json")
    assert data is None and token == "0"
    assert store.write_if("models/champion.json", b'{"version": "m1", "history": []}', token)
    data, token = store.read_versioned("models/champion.json")
    assert data == b'{"version": "m1", "history": []}'
    assert store.write_if("models/champion.json", b'{"version": "m2", "history": []}', token)
    assert store.read_text("models/champion.json") == '{"version": "m2", "history": []}'
    assert 0 <= store.age_s("models/champion.json") < 300 and store.leftovers() == []


def test_overwrite_replaces_the_whole_object(gcs_endpoint: str) -> None:
    store = open_store("gs://riskops-it/ow", gcs_endpoint)
    store.write_text("champion.json", "x" * 10_000)
    store.write_text("champion.json", "short")
    assert store.read_text("champion.json") == "short"


def test_missing_object_is_named(gcs_endpoint: str) -> None:
    store = open_store("gs://riskops-it/none", gcs_endpoint)
    with pytest.raises(ArtifactError, match=r"gs://riskops-it/none/a\.json"):
        store.read_bytes("a.json")


def test_validation_report_lands_in_the_bucket(gcs_endpoint: str, tmp_path: Path) -> None:
    store = open_store("gs://riskops-it/runs", gcs_endpoint)
    with DuckDBWarehouse(tmp_path / "w.duckdb") as wh:
        wh.load("raw_labelled_customers", pa.Table.from_pylist(GOOD_CUSTOMERS))
        wh.load("raw_labelled_transactions", pa.Table.from_pylist(GOOD_TX))
        report = ingest_cohort(wh, "labelled", AS_OF, store, "r42/validation/labelled", Mapping(), now=NOW)
    assert report.report_uri == "gs://riskops-it/runs/r42/validation/labelled/report.json"
    saved = json.loads(store.read_text("r42/validation/labelled/report.json"))
    assert saved["status"] == "ok" and saved["transactions"]["rows_clean"] == 30
    assert store.read_text("r42/validation/labelled/summary.md").startswith("# Validation: labelled cohort")
