import pytest


def pytest_collection_modifyitems(config, items):
    """Tests that need tiny-base run last: `make test` builds it beside the others (scripts/run-tests.sh)."""
    items.sort(key=lambda item: item.get_closest_marker("tiny_base") is not None)  # stable: order kept otherwise


@pytest.fixture(scope="session")
def sql_tasks():
    """The built-in SQL task set (built into $TURNGYM_HOME on first use)."""
    from envs.sql.data import load_sql_tasks

    return load_sql_tasks()


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory):
    """A tiny random Llama folder (``agents.models.write_tiny``), built once per test session."""
    pytest.importorskip("torch", reason="torch not installed: install the [train] extra (torch==2.13.0 first on CPU)")
    pytest.importorskip("transformers", reason="transformers not installed: install the [train] extra")
    from agents.models import write_tiny

    return write_tiny(tmp_path_factory.mktemp("tiny-session") / "tiny")


@pytest.fixture(scope="module")
def one_torch_thread():
    """Tiny models: one thread is faster than two, and far faster on a loaded machine."""
    torch = pytest.importorskip("torch")
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def stubs(request):
    """Stub HTTP servers (tests/test_sync_check.py's ``Stub``), one per behaviour of the indirect parameter."""
    from tests.test_sync_check import Stub

    servers = [Stub(b) for b in request.param]
    yield servers
    for s in servers:
        s.close()
