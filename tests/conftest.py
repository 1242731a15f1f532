import pytest


@pytest.fixture(scope="session")
def sql_tasks():
    """The built-in SQL task set (built into $TURNGYM_HOME on first use)."""
    from envs.sql.data import load_sql_tasks

    return load_sql_tasks()
