"""Fixtures for the Docker sandbox tests: an engine client (skipping, with the reason, where there is
no engine or no image; CI sets both up through scripts/setup.d/20-docker.sh), a module-wide pool,
and a fresh sandbox per test."""

import pytest

from sandboxes import SandboxPool

docker = pytest.importorskip("docker", reason="docker SDK not installed (pip install 'turngym[sandbox]')")


@pytest.fixture(scope="module")
def client():
    from sandboxes.image import IMAGE, image_exists

    try:
        c = docker.from_env(timeout=60)
        c.ping()
    except Exception as e:  # noqa: BLE001
        pytest.skip(f"no Docker engine reachable ({e}); run scripts/setup.d/20-docker.sh")
    if not image_exists(c, IMAGE):
        pytest.skip(f"sandbox image {IMAGE} missing; run `turngym sandbox build --offline`")
    return c


@pytest.fixture(scope="module")
def pool(client):
    from sandboxes.docker import DockerBackend

    with SandboxPool(DockerBackend(client=client), size=2, max_active=8) as p:
        yield p
    assert client.api.containers(all=True, filters={"label": f"turngym.pool={p.id}"}) == []


@pytest.fixture
def sb(pool):
    with pool.sandbox(timeout=60) as sandbox:
        yield sandbox
        assert sandbox.ping(), "the sandbox must still answer after the attack"


def other_pids(sb):
    r = sb.run("import os; print(sorted(int(p) for p in os.listdir('/proc') if p.isdigit() and int(p) not in (1, os.getpid())))", timeout=5)
    return r.stdout.strip()


def assert_clean_next_episode(pool):
    with pool.sandbox(timeout=60) as nxt:
        r = nxt.run("import os; print(os.listdir('.'), os.listdir('/tmp'), os.listdir('/dev/shm'), "
                    "len([p for p in os.listdir('/proc') if p.isdigit()]))", timeout=5)
        assert r.stdout == "[] [] [] 2\n", r
