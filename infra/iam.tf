# One service account per workload, each with only what it uses, bound to its Kubernetes service account by
# Workload Identity (no keys anywhere).

resource "google_service_account" "riskops" {
  for_each     = toset(["serving", "pipeline", "deployer", "stream", "console"])
  account_id   = "riskops-${each.value}"
  display_name = "riskops ${each.value}"
}

locals {
  sa = { for k, v in google_service_account.riskops : k => "serviceAccount:${v.email}" }
}

# serving: reads the registry (artifacts bucket), streams into the predictions table.
resource "google_storage_bucket_iam_member" "serving_reads_artifacts" {
  bucket = google_storage_bucket.riskops["artifacts"].name
  role   = "roles/storage.objectViewer"
  member = local.sa["serving"]
}

resource "google_bigquery_table_iam_member" "serving_writes_predictions" {
  dataset_id = google_bigquery_dataset.riskops.dataset_id
  table_id   = google_bigquery_table.predictions.table_id
  role       = "roles/bigquery.dataEditor"
  member     = local.sa["serving"]
}

# serving: appends and reads the review decisions for the console (DML needs query jobs).
resource "google_bigquery_table_iam_member" "serving_writes_decisions" {
  dataset_id = google_bigquery_dataset.riskops.dataset_id
  table_id   = google_bigquery_table.review_decisions.table_id
  role       = "roles/bigquery.dataEditor"
  member     = local.sa["serving"]
}

resource "google_project_iam_member" "serving_runs_queries" {
  project = var.project_id
  role    = "roles/bigquery.jobUser"
  member  = local.sa["serving"]
}

resource "google_service_account_iam_member" "serving_workload_identity" {
  service_account_id = google_service_account.riskops["serving"].name
  role               = "roles/iam.workloadIdentityUser"
  member             = "serviceAccount:${var.project_id}.svc.id.goog[${var.namespace}/riskops-serving]"
}

# console: nothing in GCP: it reads customers and records decisions through the service.
resource "google_service_account_iam_member" "console_workload_identity" {
  service_account_id = google_service_account.riskops["console"].name
  role               = "roles/iam.workloadIdentityUser"
  member             = "serviceAccount:${var.project_id}.svc.id.goog[${var.namespace}/riskops-console]"
}

# pipeline: the warehouse (dataset + query jobs + Storage Read API), both buckets, Vertex AI Pipelines.
resource "google_bigquery_dataset_iam_member" "pipeline_dataset" {
  dataset_id = google_bigquery_dataset.riskops.dataset_id
  role       = "roles/bigquery.dataEditor"
  member     = local.sa["pipeline"]
}

resource "google_project_iam_member" "pipeline" {
  for_each = toset(["roles/bigquery.jobUser", "roles/bigquery.readSessionUser", "roles/aiplatform.user"])
  project  = var.project_id
  role     = each.value
  member   = local.sa["pipeline"]
}

resource "google_storage_bucket_iam_member" "pipeline_buckets" {
  for_each = google_storage_bucket.riskops
  bucket   = each.value.name
  role     = "roles/storage.objectAdmin"
  member   = local.sa["pipeline"]
}

resource "google_artifact_registry_repository_iam_member" "pipeline_pulls" {
  repository = google_artifact_registry_repository.riskops.name
  location   = var.region
  role       = "roles/artifactregistry.reader"
  member     = local.sa["pipeline"]
}

# deployer (CI on merge): push images, upload pipeline specs, start pipeline runs as the pipeline account,
# roll out to the cluster.
resource "google_artifact_registry_repository_iam_member" "deployer_pushes" {
  repository = google_artifact_registry_repository.riskops.name
  location   = var.region
  role       = "roles/artifactregistry.writer"
  member     = local.sa["deployer"]
}

resource "google_storage_bucket_iam_member" "deployer_pipeline_root" {
  bucket = google_storage_bucket.riskops["pipeline-root"].name
  role   = "roles/storage.objectAdmin"
  member = local.sa["deployer"]
}

resource "google_project_iam_member" "deployer" {
  for_each = toset(["roles/aiplatform.user", "roles/container.developer"])
  project  = var.project_id
  role     = each.value
  member   = local.sa["deployer"]
}

resource "google_service_account_iam_member" "deployer_acts_as_pipeline" {
  service_account_id = google_service_account.riskops["pipeline"].name
  role               = "roles/iam.serviceAccountUser"
  member             = local.sa["deployer"]
}

# GitHub Actions -> deployer, by Workload Identity Federation: only jobs of this repository that run in the GitHub
# environment of the same name (dev, prod: prod has required reviewers), which the deploy workflow only does
# on main.
resource "google_iam_workload_identity_pool" "github" {
  workload_identity_pool_id = "github"
  display_name              = "GitHub Actions"
}

resource "google_iam_workload_identity_pool_provider" "github" {
  workload_identity_pool_id          = google_iam_workload_identity_pool.github.workload_identity_pool_id
  workload_identity_pool_provider_id = "github"
  attribute_mapping = {
    "google.subject"       = "assertion.sub"
    "attribute.repository" = "assertion.repository"
    "attribute.ref"        = "assertion.ref"
  }
  attribute_condition = "assertion.sub == 'repo:${var.github_owner}/${var.github_repo}:environment:${var.environment}'"
  oidc {
    issuer_uri = "https://token.actions.githubusercontent.com"
  }
}

resource "google_service_account_iam_member" "github_deploys" {
  service_account_id = google_service_account.riskops["deployer"].name
  role               = "roles/iam.workloadIdentityUser"
  member             = "principalSet://iam.googleapis.com/${google_iam_workload_identity_pool.github.name}/attribute.repository/${var.github_owner}/${var.github_repo}"
}
