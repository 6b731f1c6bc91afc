# Serverless VPC Access connector: the service's way into the VPC (private endpoints,
# databases, a NAT address). Either a dedicated /28 range on a network, or an existing /28
# subnet (required for Shared VPC).

resource "google_vpc_access_connector" "egress" {
  count = var.enable_vpc_connector ? 1 : 0

  project       = var.project_id
  region        = var.region
  name          = local.names.vpc_connector
  machine_type  = var.vpc_connector_machine_type
  min_instances = var.vpc_connector_min_instances
  max_instances = var.vpc_connector_max_instances

  network       = var.vpc_connector_subnet == null ? var.vpc_connector_network : null
  ip_cidr_range = var.vpc_connector_subnet == null ? var.vpc_connector_ip_cidr_range : null

  dynamic "subnet" {
    for_each = var.vpc_connector_subnet == null ? [] : [var.vpc_connector_subnet]
    content {
      name       = subnet.value
      project_id = coalesce(var.vpc_connector_subnet_project_id, var.project_id)
    }
  }

  lifecycle {
    precondition {
      condition     = var.vpc_connector_min_instances < var.vpc_connector_max_instances
      error_message = "vpc_connector_min_instances must be lower than vpc_connector_max_instances."
    }
  }

  depends_on = [google_project_service.apis]
}
