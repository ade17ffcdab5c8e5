"""Boot the local VM image under qemu: what an EC2 launch is, with no AWS account.

The VM has no network (`-nic none`); its user data comes from a NoCloud seed (a vfat
volume labelled CIDATA), its releases from a disk labelled ffreleases that the VM serves on
loopback; its serial console goes to a file, which plays `GetConsoleOutput` (see
`bootscript.image.serial`). TCG only: KVM is not available where this runs.
"""

from __future__ import annotations

import ctypes
import json
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path

from bootscript.image.vm import VmImage

_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
RELEASES_LABEL = "ffreleases"
RELEASE_SHELF = "http://127.0.0.1:8181"  # where the VM serves its releases disk


class VmError(RuntimeError):
    """The VM did not do what was awaited; the message ends with the console's last lines."""


def qemu_available() -> tuple[bool, str]:
    """Whether qemu-system-x86_64 and the disk tools are installed; says what is missing."""
    missing = [
        tool
        for tool in ("qemu-system-x86_64", "qemu-img", "mkfs.vfat", "mcopy", "mke2fs")
        if not shutil.which(tool)
    ]
    if missing:
        return False, "missing " + ", ".join(missing) + " (see dev: qemu-system-x86, mtools)"
    return True, "qemu and the disk tools are installed"


def make_overlay(image: VmImage, path: Path) -> Path:
    """A qcow2 disk backed by the image: the instance's own root disk, the cache untouched."""
    _run(["qemu-img", "create", "-q", "-f", "qcow2", "-F", "raw", "-b", str(image.disk), str(path)])
    return path


def make_seed(path: Path, user_data: str, instance_id: str, hostname: str = "") -> Path:
    """A NoCloud seed: a vfat volume labelled CIDATA holding user-data and meta-data."""
    meta = f"instance-id: {instance_id}\nlocal-hostname: {hostname or instance_id}\n"
    with tempfile.TemporaryDirectory(prefix="freshfleet-seed-") as tmp:
        files = []
        for name, text in (("user-data", user_data), ("meta-data", meta)):
            (Path(tmp) / name).write_text(text)
            files.append(str(Path(tmp) / name))
        path.unlink(missing_ok=True)
        _run(["mkfs.vfat", "-n", "CIDATA", "-C", str(path), "1024"])
        _run(["mcopy", "-i", str(path), *files, "::"])
    return path


def make_release_disk(path: Path, files: Mapping[str, bytes]) -> Path:
    """An ext4 disk labelled ffreleases; the VM serves its files at RELEASE_SHELF/<name>."""
    with tempfile.TemporaryDirectory(prefix="freshfleet-releases-") as tmp:
        for name, data in files.items():
            (Path(tmp) / name).write_bytes(data)
            (Path(tmp) / name).chmod(0o644)
        Path(tmp).chmod(0o755)
        size_kb = sum(len(d) for d in files.values()) // 1024 + 8192
        path.unlink(missing_ok=True)
        size = f"{size_kb}k"
        _run(["mke2fs", "-q", "-F", "-t", "ext4", "-L", RELEASES_LABEL, "-d", tmp, str(path), size])
    return path


def qemu_command(
    image: VmImage,
    *,
    root: Path,
    disks: tuple[Path, ...],
    console_log: Path,
    qmp_socket: Path,
    memory_mb: int = 2048,
    cpus: int = 2,
) -> list[str]:
    """The qemu command line: TCG, no network, serial console to a file, QMP on a socket."""
    cmd = [
        "qemu-system-x86_64",
        "-accel", "tcg",
        "-m", str(memory_mb),
        "-smp", str(cpus),
        "-nic", "none",
        "-display", "none",
        "-serial", f"file:{console_log}",
        "-monitor", "none",
        "-qmp", f"unix:{qmp_socket},server=on,wait=off",
        # qboot: a tiny firmware for direct kernel boot (no bootloader, no SeaBIOS needed).
        "-bios", "qboot.rom",
        "-kernel", str(image.kernel),
        "-initrd", str(image.initrd),
        "-append", image.cmdline,
        "-drive", f"file={root},if=virtio,format=qcow2",
    ]  # fmt: skip
    for disk in disks:
        cmd += ["-drive", f"file={disk},if=virtio,format=raw,readonly=on"]
    return cmd


class VirtualMachine:
    """One qemu process: boot it, wait on its console, power it down like a stop would."""

    def __init__(self, image: VmImage, root: Path, disks: tuple[Path, ...], console_log: Path):
        self.image = image
        self.root = root
        self.disks = disks
        self.console_log = console_log
        self._sockdir = Path(tempfile.mkdtemp(prefix="ffvm-"))  # a socket path must be short
        self.qmp_socket = self._sockdir / "qmp.sock"
        self.process: subprocess.Popen[bytes] | None = None
        self.started_at = 0.0

    def start(self) -> VirtualMachine:
        self.console_log.parent.mkdir(parents=True, exist_ok=True)
        self.console_log.write_bytes(b"")
        cmd = qemu_command(
            self.image,
            root=self.root,
            disks=self.disks,
            console_log=self.console_log,
            qmp_socket=self.qmp_socket,
        )
        self.started_at = time.monotonic()
        self.process = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            preexec_fn=_die_with_parent,
        )
        return self

    def console(self) -> str:
        """The whole serial console so far, as text: no colours, no carriage returns."""
        text = self.console_log.read_bytes().decode(errors="replace")
        return _ANSI.sub("", text).replace("\r", "")

    def wait_for(self, pattern: str, timeout: float) -> re.Match[str]:
        """The first console match of the regex pattern; VmError past the deadline or on exit."""
        regex = re.compile(pattern, re.MULTILINE)
        deadline = time.monotonic() + timeout
        while True:
            if match := regex.search(self.console()):
                return match
            if self.process is None or self.process.poll() is not None:
                raise self._error(f"qemu exited before the console showed {pattern!r}")
            if time.monotonic() > deadline:
                raise self._error(f"no {pattern!r} on the console within {timeout:g} s")
            time.sleep(0.25)

    def power_down(self, timeout: float = 120.0) -> None:
        """Press the power button (ACPI) and wait for a clean shutdown and qemu's exit."""
        self._qmp("system_powerdown")
        assert self.process is not None
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise self._error(f"the VM did not power off within {timeout:g} s") from None

    def kill(self) -> None:
        """End qemu if it still runs (a test's cleanup), and remove the QMP socket's folder."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=30)
        shutil.rmtree(self._sockdir, ignore_errors=True)

    def _qmp(self, command: str) -> None:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(10)
            sock.connect(str(self.qmp_socket))
            reader = sock.makefile("rb")
            reader.readline()  # the greeting
            for execute in ("qmp_capabilities", command):
                sock.sendall(json.dumps({"execute": execute}).encode() + b"\n")
                while True:  # skip asynchronous events until the command's answer
                    reply = json.loads(reader.readline())
                    if "return" in reply or "error" in reply:
                        break
                if "error" in reply:
                    raise VmError(f"QMP {execute}: {reply['error']}")

    def _error(self, what: str) -> VmError:
        tail = "\n".join(self.console().splitlines()[-40:])
        output = b""
        if self.process is not None and self.process.poll() is not None and self.process.stdout:
            output = self.process.stdout.read() or b""
        qemu_said = f"\nqemu said: {output.decode(errors='replace')}" if output else ""
        return VmError(f"{what} (console: {self.console_log}){qemu_said}\n--- console tail\n{tail}")


def _die_with_parent() -> None:
    # A killed test run must not leave a VM spinning on the shared cores.
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def _run(cmd: list[str]) -> None:
    proc = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[:3])} failed ({proc.returncode}): {proc.stderr.strip()}")
