# Artifacts (model registry, run reports, scores) and the pipelines' root: versioned, private, CMEK-encrypted.
resource "google_storage_bucket" "riskops" {
  for_each                    = toset(["artifacts", "pipeline-root"])
  name                        = "${var.project_id}-riskops-${each.value}"
  location                    = var.region
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  force_destroy               = false
  versioning {
    enabled = true
  }
  encryption {
    default_kms_key_name = google_kms_crypto_key.data["storage"].id
  }
  lifecycle_rule {
    condition {
      days_since_noncurrent_time = var.artifact_retention_days
      with_state                 = "ARCHIVED"
    }
    action {
      type = "Delete"
    }
  }
  logging {
    log_bucket = google_storage_bucket.access_logs.name
  }
  depends_on = [google_kms_crypto_key_iam_member.data]
}

resource "google_storage_bucket" "access_logs" {
  #checkov:skip=CKV_GCP_62:this is the access-log bucket itself; logging it into itself would loop
  name                        = "${var.project_id}-riskops-access-logs"
  location                    = var.region
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  versioning {
    enabled = true
  }
  encryption {
    default_kms_key_name = google_kms_crypto_key.data["storage"].id
  }
  lifecycle_rule {
    condition {
      age = 365
    }
    action {
      type = "Delete"
    }
  }
  depends_on = [google_kms_crypto_key_iam_member.data]
}
