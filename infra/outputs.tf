output "cluster" {
  value = google_container_cluster.riskops.name
}

output "image_repository" {
  value = "${var.region}-docker.pkg.dev/${var.project_id}/${google_artifact_registry_repository.riskops.repository_id}"
}

output "artifact_root" {
  description = "RISKOPS_ARTIFACT_ROOT"
  value       = "gs://${google_storage_bucket.riskops["artifacts"].name}"
}

output "pipeline_root" {
  value = "gs://${google_storage_bucket.riskops["pipeline-root"].name}"
}

output "workload_identity_provider" {
  description = "for google-github-actions/auth in .github/workflows/deploy.yml"
  value       = google_iam_workload_identity_pool_provider.github.name
}

output "service_accounts" {
  value = { for k, v in google_service_account.riskops : k => v.email }
}
