# GKE Autopilot: Google runs the nodes (hardened, auto-upgraded, Workload Identity on, Managed Prometheus
# collection on); private nodes, a control plane reachable only from the operators' network.
resource "google_compute_network" "riskops" {
  name                    = local.name
  auto_create_subnetworks = false
  depends_on              = [google_project_service.apis]
}

# Nothing reaches the network from outside unless a rule says so (GKE adds its own rules for the control plane).
resource "google_compute_firewall" "deny_ingress" {
  name      = "${local.name}-deny-ingress"
  network   = google_compute_network.riskops.id
  direction = "INGRESS"
  priority  = 65534
  deny {
    protocol = "all"
  }
  source_ranges = ["0.0.0.0/0"]
  log_config {
    metadata = "INCLUDE_ALL_METADATA"
  }
}

resource "google_compute_subnetwork" "riskops" {
  name                     = local.name
  network                  = google_compute_network.riskops.id
  region                   = var.region
  ip_cidr_range            = "10.0.0.0/20"
  private_ip_google_access = true
  secondary_ip_range {
    range_name    = "pods"
    ip_cidr_range = "10.4.0.0/14"
  }
  secondary_ip_range {
    range_name    = "services"
    ip_cidr_range = "10.8.0.0/20"
  }
  log_config {
    aggregation_interval = "INTERVAL_5_MIN"
    flow_sampling        = 0.5
    metadata             = "INCLUDE_ALL_METADATA"
  }
}

resource "google_container_cluster" "riskops" {
  #checkov:skip=CKV_GCP_12:Autopilot runs Dataplane V2 (ADVANCED_DATAPATH), which enforces NetworkPolicy; the network_policy block does not apply to Autopilot
  #checkov:skip=CKV_GCP_13:client certificates are disabled by default on Autopilot
  #checkov:skip=CKV_GCP_65:Google Groups RBAC needs a Workspace domain this module cannot assume
  #checkov:skip=CKV_GCP_66:Binary Authorization needs an attestor pipeline; images are pinned by digest in CI
  #checkov:skip=CKV_GCP_69:Autopilot enforces the GKE metadata server on every node
  #checkov:skip=CKV_GCP_68:Autopilot nodes are Shielded GKE nodes with secure boot, managed by Google
  #checkov:skip=CKV_GCP_21:labels are set on the resources that carry cost (dataset, buckets)
  name                = local.name
  location            = var.region
  enable_autopilot    = true
  deletion_protection = var.environment == "prod"
  network             = google_compute_network.riskops.id
  subnetwork          = google_compute_subnetwork.riskops.id

  datapath_provider           = "ADVANCED_DATAPATH" # Dataplane V2: enforces the NetworkPolicy of k8s/base
  enable_intranode_visibility = true

  release_channel {
    channel = "REGULAR"
  }
  ip_allocation_policy {
    cluster_secondary_range_name  = "pods"
    services_secondary_range_name = "services"
  }
  private_cluster_config {
    enable_private_nodes    = true
    enable_private_endpoint = false
    master_ipv4_cidr_block  = "172.16.0.16/28"
  }
  master_authorized_networks_config {
    cidr_blocks {
      cidr_block   = var.master_authorized_cidr
      display_name = "operators"
    }
  }
  database_encryption {
    state    = "ENCRYPTED"
    key_name = google_kms_crypto_key.data["storage"].id
  }
  monitoring_config {
    enable_components = ["SYSTEM_COMPONENTS"]
    managed_prometheus {
      enabled = true # scrapes PodMonitoring, evaluates Rules (k8s/base)
    }
  }
  resource_labels = {
    environment = var.environment
  }
}
