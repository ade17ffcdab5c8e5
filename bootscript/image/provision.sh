#!/usr/bin/env bash
# Turn Debian 12 into a freshfleet base image (ARCHITECTURE §6): Docker, the boot agent and its
# unit, cloud-init set up for NoCloud and EC2. The one script behind both images: Packer
# runs it on a fresh EC2 instance, the local VM build runs it in an mmdebstrap chroot.
#
#   provision.sh SOURCE_DIR
#
# SOURCE_DIR holds a copy of the repository's bootscript/ directory (SOURCE_DIR/bootscript).
# Optional environment:
#   FRESHFLEET_BASE_ROOTFS  the release base rootfs tarball (releases build FROM it): imported
#                           now where Docker runs, else by first boot (freshfleet-base-image)
#   FRESHFLEET_BASE_IMAGE   the name it gets (default freshfleet-base:bookworm, the agent's
#                           default BASE_IMAGE build argument)
set -euo pipefail

SRC=${1:?usage: provision.sh SOURCE_DIR (holding bootscript/)}
BOOT=$SRC/bootscript
BASE_IMAGE=${FRESHFLEET_BASE_IMAGE:-freshfleet-base:bookworm}
PREFIX=/opt/freshfleet
export DEBIAN_FRONTEND=noninteractive

[ -d "$BOOT/agent" ] || { echo "provision.sh: no agent at $BOOT/agent" >&2; exit 2; }
[ -f "$BOOT/freshfleet-boot.service" ] || { echo "provision.sh: no unit in $BOOT" >&2; exit 2; }
[ "$(id -u)" = 0 ] || { echo "provision.sh: run as root" >&2; exit 2; }

echo "== packages"
apt-get update -qq
# apparmor: Debian's docker.io cannot start containers without it (ARCHITECTURE §6).
# python3 (not -minimal): the agent needs urllib.request; boto3 and docker-py 5.0.3 from Debian.
apt-get install -y -qq --no-install-recommends \
  docker.io apparmor ca-certificates cloud-init \
  python3 python3-boto3 python3-docker >/dev/null
apt-get clean
rm -rf /var/lib/apt/lists/*

echo "== boot agent"
# The agent ships as the `bootscript.agent` package alone: nothing else of ours runs here.
rm -rf "${PREFIX:?}/lib"
install -d -m 0755 "$PREFIX/lib/bootscript"
install -m 0644 "$BOOT/__init__.py" "$PREFIX/lib/bootscript/__init__.py"
cp -r "$BOOT/agent" "$PREFIX/lib/bootscript/agent"
find "$PREFIX/lib" -name __pycache__ -prune -exec rm -rf {} +
chown -R root:root "$PREFIX"
chmod -R u=rwX,go=rX "$PREFIX"
python3 -m compileall -q "$PREFIX/lib"
install -d -m 0755 /etc/freshfleet /var/lib/freshfleet /var/cache/freshfleet

echo "== units"
install -m 0644 "$BOOT/freshfleet-boot.service" /etc/systemd/system/freshfleet-boot.service
install -m 0644 "$BOOT/image/freshfleet-base-image.service" /etc/systemd/system/
install -m 0755 "$BOOT/image/import-base-image" "$PREFIX/import-base-image"
# The release builds FROM the base image, so the agent waits for its import.
install -d -m 0755 /etc/systemd/system/freshfleet-boot.service.d
install -m 0644 "$BOOT/image/base-image.conf" /etc/systemd/system/freshfleet-boot.service.d/
systemctl enable docker.service freshfleet-base-image.service freshfleet-boot.service

if [ -n "${FRESHFLEET_BASE_ROOTFS:-}" ]; then
  echo "== release base image ($BASE_IMAGE)"
  install -d -m 0755 /var/lib/freshfleet/base
  echo "$BASE_IMAGE" >/var/lib/freshfleet/base/image-name
  if [ -d /run/systemd/system ] && systemctl is-active --quiet docker; then
    # A running system (Packer's instance): import now, so no instance pays for it.
    "$PREFIX/import-base-image" "$FRESHFLEET_BASE_ROOTFS"
  else
    # A chroot (the VM image): no Docker engine runs here, so first boot imports it.
    install -m 0644 "$FRESHFLEET_BASE_ROOTFS" /var/lib/freshfleet/base/rootfs.tar
  fi
fi

echo "== cloud-init"
# NoCloud first (a local VM's cidata seed), then EC2; None keeps a bare boot quiet.
install -m 0644 "$BOOT/image/90-freshfleet.cfg" /etc/cloud/cloud.cfg.d/90-freshfleet.cfg
# Every instance must run its user data as a first boot: forget this build's own.
cloud-init clean --logs --seed --machine-id
echo "provisioned: docker.io, the boot agent in $PREFIX/lib, freshfleet-boot.service enabled"
