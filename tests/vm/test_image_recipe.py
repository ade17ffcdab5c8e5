"""The base image's recipe, checked without booting: the script, the template, the seed."""

from __future__ import annotations

import base64
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from bootscript.image import serial, vm
from rollout.fleet.console_output import complete_lines, decode_output
from tests.fixtures import qemu

IMAGE = Path(vm.__file__).resolve().parent
TEMPLATE = (IMAGE / "freshfleet-base.pkr.hcl").read_text()


def test_the_provisioning_scripts_are_shellcheck_clean() -> None:
    if not shutil.which("shellcheck"):
        pytest.skip("shellcheck is not installed")
    scripts = [IMAGE / "provision.sh", IMAGE / "import-base-image"]
    scripts.append(IMAGE / "vm" / "usr" / "local" / "lib" / "freshfleet-vm" / "setup")
    proc = subprocess.run(["shellcheck", *map(str, scripts)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout


@pytest.mark.parametrize(
    "setting",
    [
        'source "amazon-ebs"',
        'owners      = ["136693071363"]',
        'name                = "debian-12-amd64-*"',
        'imds_support = "v2.0"',
        'http_tokens                 = "required"',
        "http_put_response_hop_limit = 1",
        "encrypted             = true",
        'post-processor "manifest"',
        "bootscript/image/provision.sh /tmp/freshfleet",
    ],
)
def test_the_packer_template_builds_an_imdsv2_encrypted_ami_with_the_same_script(
    setting: str,
) -> None:
    assert setting in TEMPLATE


def test_the_packer_template_is_formatted_where_packer_exists() -> None:
    if not shutil.which("packer"):
        pytest.skip("packer is not installed (plugins need the internet; fmt does not)")
    proc = subprocess.run(["packer", "fmt", "-check", "-diff", str(IMAGE)], capture_output=True)
    assert proc.returncode == 0, proc.stdout.decode()


def test_the_image_recipe_hash_follows_the_agent_but_not_the_host_side_helpers() -> None:
    shipped = {rel for rel, _ in vm.image_files()}
    assert "agent/boot.py" in shipped and "freshfleet-boot.service" in shipped
    assert "image/provision.sh" in shipped and "image/vm.py" in shipped
    assert "image/serial.py" not in shipped
    assert re.fullmatch(r"[0-9a-f]{16}", vm.recipe_hash())


def test_a_nocloud_seed_is_a_cidata_volume_holding_the_user_data(tmp_path: Path) -> None:
    if not (shutil.which("mkfs.vfat") and shutil.which("mcopy")):
        pytest.skip("dosfstools and mtools are not installed")
    seed = qemu.make_seed(tmp_path / "seed.img", "#cloud-config\n", instance_id="i-0abc")
    label = subprocess.run(
        ["blkid", "-o", "value", "-s", "LABEL", str(seed)], capture_output=True, text=True
    )
    assert label.stdout.strip() == "CIDATA"
    listing = subprocess.run(["mdir", "-b", "-i", str(seed), "::"], capture_output=True, text=True)
    assert {"::/user-data", "::/meta-data"} <= set(listing.stdout.split())
    meta = subprocess.run(
        ["mtype", "-i", str(seed), "::meta-data"], capture_output=True, text=True
    ).stdout
    assert "instance-id: i-0abc" in meta


def test_a_serial_log_reads_like_get_console_output(tmp_path: Path) -> None:
    log = tmp_path / "console.log"
    assert serial.console_text(log) == ""  # not booted yet: an empty console
    early = b"".join(b"kernel line %05d\r\n" % i for i in range(5000))
    log.write_bytes(early + b"freshfleet-boot 2026-11-27T12:00:00Z health ok\r\n")
    text = serial.console_text(log)
    assert len(text.encode()) <= serial.CONSOLE_LIMIT
    assert text.startswith("kernel line ") and text.endswith("health ok\n")
    answer = serial.get_console_output(log, "i-0abc")
    assert answer["InstanceId"] == "i-0abc"
    assert base64.b64decode(answer["Output"]).decode() == text


def test_the_engine_reads_a_vm_serial_log_as_it_reads_an_instance_console(tmp_path: Path) -> None:
    log = tmp_path / "console.log"
    log.write_bytes(
        b"[    1.0] Linux version 6.1\r\nfreshfleet-boot 2026-11-27T12:00:00Z fetch start\r\n"
    )
    answer = serial.get_console_output(log, "i-0abc")
    assert complete_lines(decode_output(answer["Output"])) == [
        "[    1.0] Linux version 6.1",
        "freshfleet-boot 2026-11-27T12:00:00Z fetch start",
    ]
