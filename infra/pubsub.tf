# Streaming (riskops stream work): the events topic and the worker's subscription, the dead-letter topic (the
# worker sends malformed events there with the reason; Pub/Sub itself sends events that failed delivery 10
# times), the results topic, and the stream service account's rights. Messages are encrypted with the project's
# key; the subscription keeps unacknowledged events 7 days, so a stopped worker loses nothing.

locals {
  pubsub_agent = "serviceAccount:service-${data.google_project.this.number}@gcp-sa-pubsub.iam.gserviceaccount.com"
}

resource "google_pubsub_topic" "stream" {
  for_each                   = toset(["riskops-events", "riskops-events-dead-letter", "riskops-results"])
  name                       = each.value
  kms_key_name               = google_kms_crypto_key.data["pubsub"].id
  message_retention_duration = "604800s"
  depends_on                 = [google_kms_crypto_key_iam_member.data]
}

resource "google_pubsub_subscription" "worker" {
  name                         = "riskops-events-worker"
  topic                        = google_pubsub_topic.stream["riskops-events"].id
  ack_deadline_seconds         = 60 # results are written before the ack; a micro-batch takes well under a second
  message_retention_duration   = "604800s"
  enable_exactly_once_delivery = true # redeliveries to a second replica while the first still works are avoided
  expiration_policy {
    ttl = "" # never expires
  }
  dead_letter_policy {
    dead_letter_topic     = google_pubsub_topic.stream["riskops-events-dead-letter"].id
    max_delivery_attempts = 10
  }
  retry_policy {
    minimum_backoff = "1s"
    maximum_backoff = "60s"
  }
}

# What lands in the dead-letter topic is kept for someone to read and replay.
resource "google_pubsub_subscription" "dead_letter_inspect" {
  name                       = "riskops-events-dead-letter-inspect"
  topic                      = google_pubsub_topic.stream["riskops-events-dead-letter"].id
  message_retention_duration = "604800s"
  expiration_policy {
    ttl = ""
  }
}

# The worker: pull and acknowledge its subscription, publish results and dead letters, write its tables,
# read the registry.
resource "google_pubsub_subscription_iam_member" "stream_pulls" {
  subscription = google_pubsub_subscription.worker.name
  role         = "roles/pubsub.subscriber"
  member       = local.sa["stream"]
}

resource "google_pubsub_topic_iam_member" "stream_publishes" {
  for_each = toset(["riskops-events-dead-letter", "riskops-results"])
  topic    = google_pubsub_topic.stream[each.value].name
  role     = "roles/pubsub.publisher"
  member   = local.sa["stream"]
}

resource "google_bigquery_dataset_iam_member" "stream_dataset" {
  dataset_id = google_bigquery_dataset.riskops.dataset_id
  role       = "roles/bigquery.dataEditor"
  member     = local.sa["stream"]
}

resource "google_project_iam_member" "stream_jobs" {
  project = var.project_id
  role    = "roles/bigquery.jobUser"
  member  = local.sa["stream"]
}

resource "google_storage_bucket_iam_member" "stream_reads_artifacts" {
  bucket = google_storage_bucket.riskops["artifacts"].name
  role   = "roles/storage.objectViewer"
  member = local.sa["stream"]
}

resource "google_service_account_iam_member" "stream_workload_identity" {
  service_account_id = google_service_account.riskops["stream"].name
  role               = "roles/iam.workloadIdentityUser"
  member             = "serviceAccount:${var.project_id}.svc.id.goog[${var.namespace}/riskops-stream]"
}

# Pub/Sub's own agent moves undeliverable events to the dead-letter topic.
resource "google_pubsub_topic_iam_member" "agent_dead_letters" {
  topic  = google_pubsub_topic.stream["riskops-events-dead-letter"].name
  role   = "roles/pubsub.publisher"
  member = local.pubsub_agent
}

resource "google_pubsub_subscription_iam_member" "agent_forwards" {
  subscription = google_pubsub_subscription.worker.name
  role         = "roles/pubsub.subscriber"
  member       = local.pubsub_agent
}
