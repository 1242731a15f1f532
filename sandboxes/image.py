"""The sandbox image: a Dockerfile for machines with a registry, and an offline build for those without.

Both recipes make the same image: Debian bookworm with ``python3`` and ``sqlite3``, a ``/workspace``
directory, ``LANG=C.UTF-8``, user ``65534:65534`` and the label ``turngym.sandbox.image=1``. The
in-container worker is not baked in: each container receives it on its command line (see
``sandboxes/docker.py``), so a new worker never needs a new image.

The offline build runs ``debootstrap --variant=minbase`` from a Debian mirror (reachable on these
machines although no container registry is), trims docs and apt caches, and feeds the root file
system to ``docker import`` through the Docker SDK with the Dockerfile's settings as ``changes``.
It needs root and the ``debootstrap`` program.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tarfile
import tempfile
from collections.abc import Callable
from pathlib import Path

IMAGE = "turngym-sandbox:1"
DOCKERFILE = Path(__file__).with_name("Dockerfile")
PACKAGES = ("python3", "sqlite3")
DEFAULT_MIRROR = "http://deb.debian.org/debian"
# The Dockerfile's settings, as `docker import --change` lines; keep in step with sandboxes/Dockerfile.
IMPORT_CHANGES = (
    "ENV LANG=C.UTF-8 PYTHONDONTWRITEBYTECODE=1",
    "WORKDIR /workspace",
    "USER 65534:65534",
    'LABEL turngym.sandbox.image="1"',
    'CMD ["python3"]',
)
# Trimmed from the debootstrap tree: nothing the sandbox needs at run time.
_TRIM = ("usr/share/doc", "usr/share/man", "usr/share/info", "usr/share/locale", "var/cache/apt",
         "var/lib/apt/lists", "var/cache/debconf/templates.dat-old", "var/log")


class ImageBuildError(RuntimeError):
    """The image could not be built; the message says why and what to do."""


def split_tag(tag: str) -> tuple[str, str]:
    repo, _, version = tag.rpartition(":")
    if not repo or "/" in version:
        return tag, "latest"
    return repo, version


def image_exists(client, tag: str = IMAGE) -> bool:
    """True when the engine behind ``client`` (a ``docker.DockerClient``) has ``tag``."""
    import docker.errors

    try:
        client.images.get(tag)
        return True
    except docker.errors.ImageNotFound:
        return False


def build_online(client, tag: str = IMAGE, log: Callable[[str], None] = print) -> str:
    """``docker build`` from ``sandboxes/Dockerfile`` (needs a registry for the Debian base image)."""
    import docker.errors

    try:
        image, lines = client.images.build(path=str(DOCKERFILE.parent), dockerfile=DOCKERFILE.name, tag=tag, rm=True)
    except docker.errors.BuildError as e:
        raise ImageBuildError(f"docker build failed: {e}. Without registry access use --offline.") from e
    for line in lines:
        if line.get("stream", "").strip():
            log(line["stream"].rstrip())
    return image.id


def build_offline(
    client,
    tag: str = IMAGE,
    mirror: str | None = None,
    suite: str = "bookworm",
    log: Callable[[str], None] = print,
) -> str:
    """Build the image from Debian packages with debootstrap and import it; returns the image id."""
    if os.geteuid() != 0:
        raise ImageBuildError("the offline build runs debootstrap, which needs root")
    debootstrap = shutil.which("debootstrap") or ("/usr/sbin/debootstrap" if Path("/usr/sbin/debootstrap").exists() else None)
    if debootstrap is None:
        raise ImageBuildError("debootstrap is not installed (apt-get install -y debootstrap)")
    mirror = mirror or os.environ.get("TURNGYM_DEBIAN_MIRROR", DEFAULT_MIRROR)
    with tempfile.TemporaryDirectory(prefix="turngym-rootfs-") as tmp:
        rootfs = Path(tmp) / "rootfs"
        cmd = [debootstrap, "--variant=minbase", f"--include={','.join(PACKAGES)}", suite, str(rootfs), mirror]
        log("$ " + " ".join(cmd))
        done = subprocess.run(cmd, capture_output=True, text=True)
        if done.returncode != 0:
            tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-15:])
            raise ImageBuildError(f"debootstrap failed (exit {done.returncode}):\n{tail}")
        for rel in _TRIM:
            target = rootfs / rel
            if target.is_dir():
                shutil.rmtree(target)
                target.mkdir(parents=True)
        workspace = rootfs / "workspace"
        workspace.mkdir(exist_ok=True)
        workspace.chmod(0o1777)
        archive = Path(tmp) / "rootfs.tar"
        log(f"packing {rootfs} -> {archive}")
        with tarfile.open(archive, "w") as tar:
            tar.add(rootfs, arcname=".")
        shutil.rmtree(rootfs)
        repo, version = split_tag(tag)
        log(f"importing as {repo}:{version}")
        client.api.import_image_from_file(str(archive), repository=repo, tag=version, changes=list(IMPORT_CHANGES))
    image = client.images.get(tag)
    log(f"built {tag} ({image.short_id}, {image.attrs.get('Size', 0) / 1e6:.0f} MB)")
    return image.id


def check_image(client, tag: str = IMAGE) -> list[str]:
    """Problems with an existing image (missing programs, wrong user); empty when it is usable."""
    problems = []
    try:  # one `command -v` per program: dash (Debian's sh) reports only the first name it is given
        out = client.containers.run(
            tag, ["sh", "-c", f"for p in {' '.join(PACKAGES)}; do command -v $p; done; id -u && python3 -c 'import sqlite3, json'"],
            remove=True, network_mode="none", stdout=True, stderr=True,
        ).decode()
    except Exception as e:  # noqa: BLE001 - any failure here means the image is not usable
        return [f"running {tag} failed: {e}"]
    for prog in PACKAGES:
        if f"/{prog}" not in out:
            problems.append(f"{prog} missing from {tag}")
    if "65534" not in out.split():
        problems.append(f"{tag} does not run as user 65534 by default")
    return problems
