# The warehouse: raw, clean, quarantine, features and scores tables are written by the pipelines; the prediction
# log's table is declared here so its schema and partitioning are reviewed like code.
resource "google_bigquery_dataset" "riskops" {
  dataset_id                 = "riskops"
  location                   = var.bq_location
  description                = "riskops warehouse (${var.environment})"
  delete_contents_on_destroy = false
  default_encryption_configuration {
    kms_key_name = google_kms_crypto_key.data["bigquery"].id
  }
  labels = {
    environment = var.environment
  }
  depends_on = [google_kms_crypto_key_iam_member.data]
}

resource "google_bigquery_table" "predictions" {
  dataset_id          = google_bigquery_dataset.riskops.dataset_id
  table_id            = "predictions"
  deletion_protection = true
  description         = "One row per scored customer of an API request (riskops/scoring/predlog.py): no raw personal data"
  time_partitioning {
    type  = "DAY"
    field = "time"
  }
  encryption_configuration {
    kms_key_name = google_kms_crypto_key.data["bigquery"].id
  }
  schema = jsonencode([
    { name = "request_id", type = "STRING", mode = "NULLABLE" },
    { name = "time", type = "TIMESTAMP", mode = "NULLABLE" },
    { name = "model_version", type = "STRING", mode = "NULLABLE" },
    { name = "customer_key", type = "STRING", mode = "NULLABLE", description = "HMAC-SHA256 pseudonym of the id" },
    { name = "key_id", type = "STRING", mode = "NULLABLE", description = "the pseudonym key it was made with" },
    { name = "score", type = "FLOAT64", mode = "NULLABLE" },
    { name = "segment", type = "STRING", mode = "NULLABLE" },
    { name = "offboard", type = "BOOL", mode = "NULLABLE" },
    { name = "latency_ms", type = "FLOAT64", mode = "NULLABLE" },
    { name = "shadow", type = "BOOL", mode = "NULLABLE", description = "a challenger's score of the same request" },
  ])
}

resource "google_bigquery_table" "review_decisions" {
  dataset_id          = google_bigquery_dataset.riskops.dataset_id
  table_id            = "review_decisions"
  deletion_protection = true
  description         = "The risk console's review decisions, appended, never updated (riskops/scoring/review.py)"
  encryption_configuration {
    kms_key_name = google_kms_crypto_key.data["bigquery"].id
  }
  schema = jsonencode([
    for c in ["decision_id", "run_id", "customer_id", "action", "comment", "user", "role", "decided_at",
    "model_version", "score", "segment", "reasons", "rules", "confirms"] :
    { name = c, type = c == "score" ? "FLOAT64" : "STRING", mode = "NULLABLE" }
  ])
}
