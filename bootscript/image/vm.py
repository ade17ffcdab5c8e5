"""The local VM image: the base AMI's twin, built from the same provisioning script.

mmdebstrap makes a Debian 12 tree with a kernel, systemd and cloud-init; `provision.sh` runs
in it as Packer runs it on EC2; a release base rootfs goes in for first boot to
`docker import`; `mke2fs -d` turns the tree into a raw ext4 disk, booted with the extracted
kernel and initrd (no bootloader). Everything comes from Debian's mirror at build time
($FRESHFLEET_DEBIAN_MIRROR, as for the release base image): the VM itself has no network.

Images are cached by recipe hash under `$FRESHFLEET_VM_CACHE`, else
`~/.cache/freshfleet/vm/`: the hash covers every file that goes into the image and the
recipe itself, so a changed agent rebuilds and an unchanged one boots at once.

`python3 -m bootscript.image.vm` builds (or finds) the image and prints its paths;
`python3 -m bootscript.image.vm base-rootfs OUT.tar` writes the release base rootfs (Packer).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from bootscript import baseimage

SUITE = baseimage.SUITE
# What a Debian cloud image has before provisioning; provision.sh adds Docker and the agent.
# The cloud kernel: virtio, ext4, overlayfs, netfilter and AppArmor, with a small initrd.
VM_PACKAGES = (
    "linux-image-cloud-amd64",
    "initramfs-tools",
    "systemd-sysv",
    "udev",
    "dbus",
    "cloud-init",
    "ifupdown",
    "iproute2",
    "netbase",
    "ca-certificates",
    "python3",
    "locales",
    "openssh-client",
)
# The agent's default BASE_IMAGE; the rootfs is bootscript.baseimage's recipe, as a tarball.
BASE_IMAGE = baseimage.ALIAS
ROOT_LABEL = "ffroot"
DISK_HEADROOM = 3 * 1024**3  # room for the imported base image, a build and a container

IMAGE_DIR = Path(__file__).resolve().parent
BOOTSCRIPT_DIR = IMAGE_DIR.parent
VM_EXTRAS_DIR = IMAGE_DIR / "vm"


@dataclass(frozen=True)
class VmImage:
    """A built image: boot `disk` through an overlay (it is the cache's pristine copy)."""

    disk: Path
    kernel: Path
    initrd: Path
    recipe: str

    @property
    def cmdline(self) -> str:
        # Unit names, not descriptions, in systemd's status lines: short, never cut.
        return (
            "root=/dev/vda rw rootfstype=ext4 console=ttyS0,115200 net.ifnames=0 panic=-1 "
            "systemd.show_status=1 systemd.status_unit_format=name"
        )


def cache_root() -> Path:
    """Where images are cached: $FRESHFLEET_VM_CACHE, else $XDG_CACHE_HOME/freshfleet/vm."""
    if env := os.environ.get("FRESHFLEET_VM_CACHE"):
        return Path(env)
    xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(xdg) / "freshfleet" / "vm"


def image_files() -> Iterator[tuple[str, Path]]:
    """Every file of ours that goes into the image, as (path under bootscript/, file).

    The agent package, the units, and this directory's recipe files; the host-side helpers
    that only boot or read a VM (every other module here) change no image.
    """
    for path in sorted(BOOTSCRIPT_DIR.rglob("*")):
        rel = path.relative_to(BOOTSCRIPT_DIR)
        if path.is_dir() or "__pycache__" in rel.parts or path.suffix in (".pyc", ".pyo"):
            continue
        top = rel.parts[0]
        unit_or_init = len(rel.parts) == 1 and (top == "__init__.py" or path.suffix == ".service")
        recipe = top == "image" and (path.suffix != ".py" or path.name == "vm.py")
        if unit_or_init or top == "agent" or recipe:
            yield rel.as_posix(), path


def recipe_hash() -> str:
    """The image's cache key: its files, the package lists, the suite and this recipe."""
    digest = hashlib.sha256()
    for item in (SUITE, *VM_PACKAGES, baseimage.recipe_hash(), BASE_IMAGE, str(DISK_HEADROOM)):
        digest.update(item.encode() + b"\0")
    for rel, path in image_files():
        digest.update(rel.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def build_image(
    cache_dir: Path | None = None, *, log: Callable[[str], None] | None = None
) -> VmImage:
    """The VM image for the current recipe: from the cache, else built (as root) and cached.

    Safe to call from several processes: one builds, the others wait for it. Older images
    are removed once a new one is in place.
    """
    say = log or (lambda text: print(text, file=sys.stderr, flush=True))
    root = cache_dir or cache_root()
    root.mkdir(parents=True, exist_ok=True)
    recipe = recipe_hash()
    final = root / recipe
    with (root / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (final / "recipe.json").exists():
            if os.geteuid() != 0:
                raise PermissionError("building the VM image needs root (mmdebstrap, chroot)")
            say(f"building VM image {recipe} in {root} (a few minutes, once)")
            work = Path(tempfile.mkdtemp(prefix=f"{recipe}.", dir=root))
            try:
                _build_into(work, recipe, say)
                work.rename(final)
            finally:
                shutil.rmtree(work, ignore_errors=True)
            for old in root.iterdir():
                if old.is_dir() and old.name != recipe and not old.name.startswith("."):
                    shutil.rmtree(old, ignore_errors=True)
    return VmImage(final / "disk.raw", final / "vmlinuz", final / "initrd.img", recipe)


def _build_into(work: Path, recipe: str, say: Callable[[str], None]) -> None:
    stage = work / "stage"
    tree = work / "tree"
    for rel, path in image_files():
        (stage / "bootscript" / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, stage / "bootscript" / rel)
    baseimage.build_rootfs_tarball(stage / "rootfs.tar", progress=lambda _line: None)
    say("  release base rootfs built")
    say("  system tree (mmdebstrap, then provision.sh in the chroot)")
    provision = (
        'chroot "$1" env FRESHFLEET_BASE_ROOTFS=/tmp/freshfleet/rootfs.tar '
        f"FRESHFLEET_BASE_IMAGE={BASE_IMAGE} "
        "bash /tmp/freshfleet/bootscript/image/provision.sh /tmp/freshfleet"
    )
    _run(
        [
            "mmdebstrap",
            "--variant=apt",
            "--include=" + ",".join(VM_PACKAGES),
            # Copied as root: the tree's files are root's whoever owns the checkout.
            f'--customize-hook=cp -R --preserve=mode "{stage}" "$1/tmp/freshfleet"',
            f"--customize-hook={provision}",
            '--customize-hook=rm -rf "$1/tmp/freshfleet"',
            f'--customize-hook=cp -R --preserve=mode "{VM_EXTRAS_DIR}/." "$1/"',
            '--customize-hook=chroot "$1" sh /usr/local/lib/freshfleet-vm/setup',
            '--customize-hook=rm -f "$1/etc/resolv.conf" "$1/etc/hostname"',
            SUITE,
            str(tree),
            baseimage.MIRROR,
        ]
    )
    (stage / "rootfs.tar").unlink()
    shutil.copy2(_newest(tree / "boot", "vmlinuz-*"), work / "vmlinuz")
    shutil.copy2(_newest(tree / "boot", "initrd.img-*"), work / "initrd.img")
    say("  disk (mke2fs -d)")
    size = _tree_bytes(tree) + DISK_HEADROOM
    _run(
        [
            "mke2fs",
            "-q",
            "-F",
            "-t",
            "ext4",
            "-L",
            ROOT_LABEL,
            "-d",
            str(tree),
            str(work / "disk.raw"),
            f"{size // 1024}k",
        ]
    )
    shutil.rmtree(tree)
    shutil.rmtree(stage)
    (work / "recipe.json").write_text(
        json.dumps({"recipe": recipe, "suite": SUITE, "packages": VM_PACKAGES}, indent=2) + "\n"
    )


def _newest(directory: Path, pattern: str) -> Path:
    found = sorted(directory.glob(pattern))
    if not found:
        raise FileNotFoundError(f"no {pattern} in {directory}")
    return found[-1]


def _tree_bytes(tree: Path) -> int:
    out = subprocess.run(
        ["du", "-sb", "--apparent-size", str(tree)], check=True, capture_output=True, text=True
    )
    return int(out.stdout.split()[0])


def _run(cmd: list[str]) -> None:
    # mmdebstrap reads a mirror list from stdin when it is not a terminal: give it none.
    proc = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True)
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).splitlines()[-40:])
        raise RuntimeError(f"{cmd[0]} failed ({proc.returncode}):\n{tail}")


def main(argv: list[str] | None = None) -> int:
    """`build` (the default): build or find the image, print its paths as JSON;
    `base-rootfs OUT`: write the release base rootfs tarball (for Packer) to OUT."""
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["base-rootfs"] and len(args) == 2:
        baseimage.build_rootfs_tarball(Path(args[1]), progress=print)
        return 0
    if args not in ([], ["build"]):
        usage = "usage: python3 -m bootscript.image.vm [build | base-rootfs OUT.tar]"
        print(usage, file=sys.stderr)
        return 2
    image = build_image()
    print(json.dumps({k: str(v) for k, v in image.__dict__.items()}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
