variable "project_id" {
  description = "GCP project of this environment"
  type        = string
}

variable "environment" {
  description = "dev or prod: names, sizes and protections follow it"
  type        = string
  validation {
    condition     = contains(["dev", "prod"], var.environment)
    error_message = "environment must be dev or prod"
  }
}

variable "region" {
  description = "Region of the cluster, buckets, dataset and registry (data stays in it)"
  type        = string
  default     = "europe-west1"
}

variable "bq_location" {
  description = "BigQuery dataset location (RISKOPS_BQ_LOCATION)"
  type        = string
  default     = "EU"
}

variable "github_owner" {
  description = "GitHub organisation or user that owns the repository allowed to deploy here"
  type        = string
}

variable "github_repo" {
  description = "name of the repository whose workflows may deploy here (Workload Identity Federation)"
  type        = string
}

variable "master_authorized_cidr" {
  description = "CIDR allowed to reach the GKE control plane (the operators' network)"
  type        = string
}

variable "namespace" {
  description = "Kubernetes namespace of the service (k8s/overlays/<env>)"
  type        = string
}

variable "artifact_retention_days" {
  description = "Days to keep non-current artifact object versions"
  type        = number
  default     = 90
}
