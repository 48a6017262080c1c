resource "google_artifact_registry_repository" "riskops" {
  repository_id = "riskops"
  location      = var.region
  format        = "DOCKER"
  description   = "riskops pipeline and serving images"
  kms_key_name  = google_kms_crypto_key.data["registry"].id
  docker_config {
    immutable_tags = true # a tag is a commit: never rewritten
  }
  cleanup_policies {
    id     = "keep-recent"
    action = "KEEP"
    most_recent_versions {
      keep_count = 30
    }
  }
  depends_on = [google_kms_crypto_key_iam_member.data]
}
