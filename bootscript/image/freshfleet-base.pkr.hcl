# freshfleet's base AMI: Debian 12 + Docker + the boot agent and its unit, made by the same
# provision.sh that builds the local VM image. Build from the repository root:
#
#   python3 -m bootscript.image.vm base-rootfs base-rootfs.tar    # mmdebstrap, as root
#   packer init bootscript/image/freshfleet-base.pkr.hcl
#   packer build -var region=eu-west-1 bootscript/image/freshfleet-base.pkr.hcl
#
# The AMI id lands in packer-manifest.json (the manifest post-processor).

packer {
  required_plugins {
    amazon = {
      source  = "github.com/hashicorp/amazon"
      version = ">= 1.3.0"
    }
  }
}

variable "region" {
  type    = string
  default = "us-east-1"
}

variable "instance_type" {
  type    = string
  default = "t3.small"
}

variable "ami_prefix" {
  type    = string
  default = "freshfleet-base"
}

variable "base_rootfs" {
  type        = string
  default     = "base-rootfs.tar"
  description = "The release base rootfs tarball: python3 -m bootscript.image.vm base-rootfs base-rootfs.tar"
}

variable "kms_key_id" {
  type        = string
  default     = ""
  description = "KMS key for the encrypted root volume; empty uses the account's default EBS key."
}

variable "subnet_id" {
  type        = string
  default     = ""
  description = "Build in this subnet (needs a route to the internet for apt); empty uses the default VPC."
}

locals {
  timestamp = formatdate("YYYYMMDD-hhmmss", timestamp())
}

source "amazon-ebs" "debian12" {
  region        = var.region
  instance_type = var.instance_type
  subnet_id     = var.subnet_id
  ssh_username  = "admin"
  ami_name      = "${var.ami_prefix}-${local.timestamp}"

  source_ami_filter {
    # Debian's own account; the newest Debian 12 amd64 AMI.
    owners      = ["136693071363"]
    most_recent = true
    filters = {
      name                = "debian-12-amd64-*"
      architecture        = "x86_64"
      virtualization-type = "hvm"
      root-device-type    = "ebs"
    }
  }

  # Instances launched from the AMI speak IMDSv2 only; hop limit 1, so a container (one hop
  # further, through the docker bridge) never gets a token: the agent runs on the host.
  imds_support = "v2.0"
  metadata_options {
    http_endpoint               = "enabled"
    http_tokens                 = "required"
    http_put_response_hop_limit = 1
    instance_metadata_tags      = "enabled"
  }

  launch_block_device_mappings {
    device_name           = "/dev/xvda"
    volume_size           = 8
    volume_type           = "gp3"
    encrypted             = true
    kms_key_id            = var.kms_key_id
    delete_on_termination = true
  }

  tags = {
    Name                 = "${var.ami_prefix}-${local.timestamp}"
    "freshfleet:purpose" = "base-image"
    "freshfleet:source"  = "{{ .SourceAMIName }}"
  }
}

build {
  sources = ["source.amazon-ebs.debian12"]

  # provision.sh takes a directory holding bootscript/: upload the repository's, and the
  # release base rootfs it imports into Docker (releases build FROM it, no registry needed).
  provisioner "shell" {
    inline = ["mkdir -p /tmp/freshfleet/bootscript"]
  }

  provisioner "file" {
    source      = "${path.root}/../"
    destination = "/tmp/freshfleet/bootscript"
  }

  provisioner "file" {
    source      = var.base_rootfs
    destination = "/tmp/freshfleet/rootfs.tar"
  }

  provisioner "shell" {
    execute_command = "sudo -E bash '{{ .Path }}'"
    inline = [
      "FRESHFLEET_BASE_ROOTFS=/tmp/freshfleet/rootfs.tar bash /tmp/freshfleet/bootscript/image/provision.sh /tmp/freshfleet",
      "rm -rf /tmp/freshfleet",
    ]
  }

  post-processor "manifest" {
    output     = "packer-manifest.json"
    strip_path = true
    custom_data = {
      source_ami_name = "${build.SourceAMIName}"
    }
  }
}
