"""The Spider/BIRD loader on tiny hand-made fixtures in both on-disk layouts."""

from __future__ import annotations

import json
import sqlite3

import pytest

from envs.sql.spider import SpiderSchema, SpiderTaskSet, classify_sql

CONCERT = {
    "db_id": "concert",
    "table_names_original": ["singer", "concert", "singer_in_concert"],
    "table_names": ["singer", "concert", "singer in concert"],
    "column_names_original": [[-1, "*"], [0, "Singer_ID"], [0, "Name"], [0, "Age"], [1, "Concert_ID"],
                              [1, "Year"], [2, "Concert_ID"], [2, "Singer_ID"]],
    "column_names": [[-1, "*"], [0, "singer id"], [0, "name"], [0, "age"], [1, "concert id"],
                     [1, "year"], [2, "concert id"], [2, "singer id"]],
    "column_types": ["text", "number", "text", "number", "number", "text", "number", "number"],
    "primary_keys": [1, 4, [6, 7]],
    "foreign_keys": [[7, 1], [6, 4]],
}
SHOP = {
    "db_id": "shop",
    "table_names_original": ["item"],
    "table_names": ["item"],
    "column_names_original": [[-1, "*"], [0, "id"], [0, "price"]],
    "column_names": [[-1, "*"], [0, "id"], [0, "price"]],
    "column_types": ["text", "number", "number"],
    "primary_keys": [1],
    "foreign_keys": [],
}
DDL = {
    "concert": ["CREATE TABLE singer (Singer_ID INTEGER PRIMARY KEY, Name TEXT, Age INTEGER)",
                "CREATE TABLE concert (Concert_ID INTEGER PRIMARY KEY, Year TEXT)",
                "CREATE TABLE singer_in_concert (Concert_ID INTEGER REFERENCES concert, Singer_ID INTEGER REFERENCES singer)",
                "INSERT INTO singer VALUES (1, 'Ann', 30), (2, 'Bo', 41)",
                "INSERT INTO concert VALUES (1, '2014'), (2, '2015')",
                "INSERT INTO singer_in_concert VALUES (1, 1), (2, 1), (2, 2)"],
    "shop": ["CREATE TABLE item (id INTEGER PRIMARY KEY, price REAL)", "INSERT INTO item VALUES (1, 2.5), (2, 4.0)"],
}
SPIDER_TRAIN = [
    {"db_id": "concert", "question": "How many singers are there?", "query": "SELECT count(*) FROM singer",
     "query_toks": ["SELECT"], "sql": {"select": []}},
    {"db_id": "concert", "question": "Names of singers in concerts in 2015?",
     "query": "SELECT T1.Name FROM singer AS T1 JOIN singer_in_concert AS T2 ON T1.Singer_ID = T2.Singer_ID "
              "JOIN concert AS T3 ON T2.Concert_ID = T3.Concert_ID WHERE T3.Year = '2015'"},
]
SPIDER_DEV = [{"db_id": "shop", "question": "What is the highest price?", "query": "SELECT max(price) FROM item"}]
BIRD_DEV = [
    {"question_id": 0, "db_id": "shop", "question": "List the item prices.", "SQL": "SELECT price FROM item"},
    {"question_id": 1, "db_id": "shop", "question": "Which item is the priciest?", "evidence": "priciest refers to MAX(price)",
     "SQL": "SELECT id FROM item ORDER BY price DESC LIMIT 1", "difficulty": "simple"},
    {"question_id": 2, "db_id": "concert", "question": "Singers older than average?", "evidence": "",
     "SQL": "SELECT Name FROM singer WHERE Age > (SELECT AVG(Age) FROM singer)", "difficulty": "moderate"},
]


def write(path, value):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(value), encoding="utf-8")
    return path


def make_dbs(db_dir):
    for db_id, statements in DDL.items():
        (db_dir / db_id).mkdir(parents=True)
        with sqlite3.connect(db_dir / db_id / f"{db_id}.sqlite") as conn:
            for statement in statements:
                conn.execute(statement)


@pytest.fixture
def spider_root(tmp_path):
    write(tmp_path / "tables.json", [CONCERT, SHOP])
    write(tmp_path / "train_spider.json", SPIDER_TRAIN)
    write(tmp_path / "dev.json", SPIDER_DEV)
    make_dbs(tmp_path / "database")
    return tmp_path


@pytest.fixture
def bird_root(tmp_path):
    write(tmp_path / "dev_tables.json", [CONCERT, SHOP])
    write(tmp_path / "dev.json", BIRD_DEV)
    make_dbs(tmp_path / "dev_databases")
    return tmp_path


def spider(root, **kw):
    return SpiderTaskSet(root, {"train": "train_spider.json", "val": "dev.json"}, **kw)


def bird(root, **kw):
    return SpiderTaskSet(root, {"test": "dev.json"}, db_dir="dev_databases", tables_file="dev_tables.json", **kw)


def test_spider_tasks(spider_root):
    tasks = spider(spider_root)
    assert tasks.sizes() == {"train": 2, "val": 1, "test": 0}
    assert list(tasks.ids("train")) == ["concert/0000", "concert/0001"]
    task = tasks.get("concert/0001")
    assert task.split == "train" and task.prompt == "Names of singers in concerts in 2015?"
    assert task.answer == task.data["gold_sql"] == SPIDER_TRAIN[1]["query"]
    assert task.data["db_id"] == "concert" and task.data["kind"] == "join"
    assert task.data["tables"] == ["concert", "singer", "singer_in_concert"]
    assert "evidence" not in task.data and task.meta == {"source": "train_spider.json", "index": 1}
    assert tasks.get("concert/0000").data["kind"] == "aggregate"
    assert tasks.get("shop/0000").split == "val" and tasks.ids("val") == ["shop/0000"]
    with pytest.raises(KeyError, match="nope/0000"):
        tasks.get("nope/0000")


def test_db_paths_and_gold_runs(spider_root):
    tasks = spider(spider_root)
    assert tasks.db_path("concert") == spider_root / "database" / "concert" / "concert.sqlite"
    for task_id in tasks.ids("train"):
        task = tasks.get(task_id)
        with sqlite3.connect(tasks.db_path(task.data["db_id"])) as conn:
            assert conn.execute(task.answer).fetchall()


def test_schema_parsing(spider_root):
    schema = spider(spider_root).schema("concert")
    assert isinstance(schema, SpiderSchema)
    assert schema.columns("SINGER") == ["Singer_ID", "Name", "Age"]
    assert schema.foreign_key_pairs() == [(("singer_in_concert", "Singer_ID"), ("singer", "Singer_ID")),
                                          (("singer_in_concert", "Concert_ID"), ("concert", "Concert_ID"))]
    assert schema.primary_keys == [1, 4, [6, 7]]
    with pytest.raises(KeyError, match="no table 'band'"):
        schema.columns("band")


def test_bird_layout(bird_root):
    tasks = bird(bird_root)
    assert tasks.sizes() == {"train": 0, "val": 0, "test": 3}
    assert list(tasks.ids("test")) == ["shop/0000", "shop/0001", "concert/0000"]  # counted per database
    assert "evidence" not in tasks.get("shop/0000").data  # BIRD entries may omit it
    task = tasks.get("shop/0001")
    assert task.prompt == "Which item is the priciest?"  # SQLEnv renders the evidence itself
    assert task.data["evidence"] == "priciest refers to MAX(price)"
    assert task.data["kind"] == "order_limit" and task.answer == BIRD_DEV[1]["SQL"]
    assert task.meta == {"source": "dev.json", "index": 1, "difficulty": "simple", "question_id": 1}
    nested = tasks.get("concert/0000")
    assert nested.data["kind"] == "nested" and "evidence" not in nested.data
    assert tasks.db_path("shop") == bird_root / "dev_databases" / "shop" / "shop.sqlite"
    hinted = bird(bird_root, hint_in_prompt=True).get("shop/0001")
    assert hinted.prompt == "Which item is the priciest?\nHint: priciest refers to MAX(price)"


def test_sql_env_runs_a_spider_task(spider_root):
    from agents.scripted import call
    from envs.sql.env import SQLEnv

    tasks = spider(spider_root)
    env = SQLEnv(split="train", tasks=tasks)
    try:
        env.reset(options={"task": "concert/0001"})
        *_, info = env.step(call("submit_sql", query="SELECT Name FROM singer"))
        assert info["success"] is True
    finally:
        env.close()


async def test_oracle_solves_every_spider_task_through_the_tools(spider_root):
    from agents import OraclePolicy, RolloutConfig, rollout
    from agents.evaluation import choose_episodes
    from envs.sql.env import SQLEnv

    tasks = spider(spider_root)
    for split in ("train", "val"):
        episodes = choose_episodes(tasks, split, None)
        trajs = await rollout(lambda: SQLEnv(split=split, tasks=tasks), OraclePolicy(), episodes, RolloutConfig(concurrency=2))
        assert episodes and [t.outcome for t in trajs] == [1.0] * len(episodes)
        assert all(t.turns[-1].info["tool_calls"]["submit_sql"] == 1 for t in trajs)


def test_question_files_are_parsed_lazily_per_split(spider_root):
    write(spider_root / "dev.json", [{"db_id": "shop", "query": "SELECT 1"}])  # no question
    tasks = spider(spider_root)
    assert tasks.size("train") == 2
    with pytest.raises(ValueError, match=r"dev\.json\[0\]: malformed question entry: question: Field required"):
        tasks.ids("val")


def test_missing_files_are_named(spider_root):
    with pytest.raises(FileNotFoundError, match="nope.json"):
        SpiderTaskSet(spider_root, {"train": "nope.json"})
    with pytest.raises(FileNotFoundError, match="tbl.json"):
        SpiderTaskSet(spider_root, {"train": "dev.json"}, tables_file="tbl.json")
    with pytest.raises(ValueError, match="split"):
        SpiderTaskSet(spider_root, {"dev": "dev.json"})
    (spider_root / "database" / "shop" / "shop.sqlite").unlink()
    with pytest.raises(FileNotFoundError, match="no database file for 'shop'"):
        spider(spider_root).db_path("shop")


def test_unknown_db_ids_are_explained(spider_root):
    tasks = spider(spider_root)
    with pytest.raises(KeyError, match="unknown db_id 'zoo'.*tables.json"):
        tasks.schema("zoo")
    with pytest.raises(KeyError, match="unknown db_id 'zoo'"):
        tasks.db_path("zoo")
    write(spider_root / "dev.json", SPIDER_DEV + [{"db_id": "zoo", "question": "?", "query": "SELECT 1"}])
    with pytest.raises(ValueError, match=r"dev\.json\[1\]: db_id 'zoo' is not in .*tables\.json"):
        spider(spider_root).ids("val")


def test_malformed_entries_name_file_and_index(spider_root):
    write(spider_root / "dev.json", SPIDER_DEV + [{"db_id": "shop", "question": "No gold?"}])
    with pytest.raises(ValueError, match=r"dev\.json\[1\]: .*needs a gold query"):
        spider(spider_root).ids("val")
    write(spider_root / "dev.json", {"db_id": "shop"})
    with pytest.raises(ValueError, match="expected a JSON list"):
        spider(spider_root).ids("val")
    write(spider_root / "dev.json", ["not an object"])
    with pytest.raises(ValueError, match=r"dev\.json\[0\]: expected an object"):
        spider(spider_root).ids("val")
    (spider_root / "dev.json").write_text("[{", encoding="utf-8")
    with pytest.raises(ValueError, match="not valid JSON"):
        spider(spider_root).ids("val")
    write(spider_root / "tables.json", [CONCERT, {**SHOP, "column_types": ["text"]}])
    with pytest.raises(ValueError, match=r"tables\.json\[1\]: malformed spiderschema entry: .*3 columns but 1 column_types"):
        spider(spider_root).schema("shop")
    write(spider_root / "tables.json", [{**CONCERT, "foreign_keys": [[7, 99]]}, SHOP])
    with pytest.raises(ValueError, match=r"tables\.json\[0\].*index 99 out of range"):
        spider(spider_root).schema("concert")


def test_ids_must_not_collide_across_splits(spider_root):
    tasks = SpiderTaskSet(spider_root, {"train": "dev.json", "val": "dev.json"})
    assert tasks.size("train") == 1
    with pytest.raises(ValueError, match="'shop/0000' is in both the 'train' and 'val'"):
        tasks.size("val")


@pytest.mark.parametrize(("sql", "kind", "tables"), [
    ("SELECT name FROM singer WHERE age > 3", "select", ["singer"]),
    ("SELECT a.x FROM a, b WHERE a.id = b.id", "join", ["a", "b"]),
    ("SELECT COUNT(*) FROM singer", "aggregate", ["singer"]),
    ("SELECT age, COUNT(*) FROM singer GROUP BY age HAVING COUNT(*) > 1", "group_having", ["singer"]),
    ("SELECT name FROM singer ORDER BY age LIMIT 1", "order_limit", ["singer"]),
    ("SELECT name FROM singer EXCEPT SELECT name FROM singer WHERE age > 3", "nested", ["singer"]),
    ("WITH t AS (SELECT * FROM singer) SELECT * FROM t", "nested", ["singer"]),
    ("SELEC nonsense (", None, []),
    ("SELECT DISTINCT name FROM singer WHERE age > 3", "distinct", ["singer"]),
    ("SELECT DISTINCT T1.name FROM singer AS T1 JOIN concert AS T2 ON T1.id = T2.singer_id", "distinct", ["concert", "singer"]),
    ("select distinct country from singer", "distinct", ["singer"]),
    ("SELECT COUNT(DISTINCT country) FROM singer", "aggregate", ["singer"]),
    ("SELECT DISTINCT name FROM singer ORDER BY age", "order_limit", ["singer"]),
    ("SELECT name FROM singer WHERE id IN (SELECT DISTINCT singer_id FROM concert)", "nested", ["concert", "singer"]),
])
def test_classify_sql(sql, kind, tables):
    assert classify_sql(sql) == (kind, tables)


def test_classify_sql_uses_the_schema_spelling():
    schema = SpiderSchema.model_validate(CONCERT)
    assert classify_sql("SELECT name FROM SINGER", schema) == ("select", ["singer"])
