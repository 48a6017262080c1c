locals {
  name = "riskops-${var.environment}"
  apis = [
    "aiplatform.googleapis.com", "artifactregistry.googleapis.com", "bigquery.googleapis.com",
    "bigquerystorage.googleapis.com", "cloudkms.googleapis.com", "container.googleapis.com",
    "iamcredentials.googleapis.com", "monitoring.googleapis.com", "pubsub.googleapis.com", "storage.googleapis.com",
    "sts.googleapis.com",
  ]
}

resource "google_project_service" "apis" {
  for_each           = toset(local.apis)
  service            = each.value
  disable_on_destroy = false
}

# -- encryption: one key ring, a key per data store, rotated every 90 days ---------------------------------------

resource "google_kms_key_ring" "riskops" {
  name       = local.name
  location   = var.region
  depends_on = [google_project_service.apis]
}

resource "google_kms_crypto_key" "data" {
  for_each        = toset(["storage", "bigquery", "registry", "pubsub"])
  name            = "${local.name}-${each.value}"
  key_ring        = google_kms_key_ring.riskops.id
  rotation_period = "7776000s"
  lifecycle {
    prevent_destroy = true
  }
}

data "google_project" "this" {}

data "google_storage_project_service_account" "gcs" {}

data "google_bigquery_default_service_account" "bq" {}

locals {
  kms_users = {
    storage  = "serviceAccount:${data.google_storage_project_service_account.gcs.email_address}"
    bigquery = "serviceAccount:${data.google_bigquery_default_service_account.bq.email}"
    registry = "serviceAccount:service-${data.google_project.this.number}@gcp-sa-artifactregistry.iam.gserviceaccount.com"
    pubsub   = local.pubsub_agent
  }
}

resource "google_kms_crypto_key_iam_member" "data" {
  for_each      = local.kms_users
  crypto_key_id = google_kms_crypto_key.data[each.key].id
  role          = "roles/cloudkms.cryptoKeyEncrypterDecrypter"
  member        = each.value
}
