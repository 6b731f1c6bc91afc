# Optional VPC: the function's security group lets nothing in and only HTTPS out (SQS,
# Secrets Manager, CloudWatch Logs, through NAT or VPC endpoints).
resource "aws_security_group" "function" {
  count = local.vpc_enabled ? 1 : 0

  name        = "${var.name}-function"
  description = "${var.name} Lambda function: no ingress, HTTPS egress to AWS APIs only"
  vpc_id      = var.vpc_id

  egress {
    description = "HTTPS to the AWS APIs the function calls"
    from_port   = 443
    to_port     = 443
    protocol    = "tcp"
    cidr_blocks = var.egress_cidr_blocks
  }
}
