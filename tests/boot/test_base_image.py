"""The release base image: Debian with python3 (http.server included), none of the build
host's resolv.conf or hostname, tagged by its recipe hash and as freshfleet-base:bookworm."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path
from typing import Any

import pytest

from bootscript import baseimage


def layer_names(docker_client: Any, tag: str) -> set[str]:
    """Every path in the image's layers (an imported image has exactly one)."""
    saved = io.BytesIO(b"".join(docker_client.images.get(tag).save()))
    names: set[str] = set()
    with tarfile.open(fileobj=saved) as image:
        for member in image.getmembers():
            if member.name.endswith("layer.tar"):
                layer = image.extractfile(member)
                assert layer is not None
                with tarfile.open(fileobj=layer) as rootfs:
                    names.update(n.removeprefix("./") for n in rootfs.getnames())
    return names


@pytest.mark.docker
def test_the_base_image_is_the_recipes_and_leaks_nothing_of_the_host(
    base_image: str, docker_client: Any
) -> None:
    if base_image != baseimage.image_tag():
        pytest.skip(f"a configured base image is in use ({base_image})")
    assert docker_client.images.get(baseimage.ALIAS).id == docker_client.images.get(base_image).id
    names = layer_names(docker_client, base_image)
    assert "usr/lib/python3.11/http/server.py" in names  # python3, not python3-minimal
    assert "usr/lib/python3.11/urllib/request.py" in names
    assert "etc/resolv.conf" not in names
    assert "etc/hostname" not in names
    # Asking again finds it: built once per recipe.
    assert baseimage.ensure_base_image(docker_client) == base_image


def test_the_recipe_hash_names_the_image() -> None:
    assert baseimage.image_tag() == f"freshfleet-base:bookworm-{baseimage.recipe_hash()}"
    cmd = baseimage.mmdebstrap_command(Path("/tmp/rootfs.tar"))
    assert "--variant=minbase" in cmd and "--include=python3,ca-certificates" in cmd
    assert any("resolv.conf" in arg and "hostname" in arg for arg in cmd)
