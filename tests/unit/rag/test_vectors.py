"""VectorStore against a real Chroma server (the ``chroma_server`` fixture)."""

import uuid
from datetime import UTC, datetime

import numpy as np
import pytest

from shared.vectors import (
    VectorStore,
    VectorStoreSettings,
    VectorStoreUnavailable,
    chunk_metadata,
    collection_name,
    where_filter,
)

MODEL_KEY = "hashing:char-ngram-hash:8"


@pytest.fixture
def store(chroma_server):
    host, port = chroma_server
    return VectorStore(VectorStoreSettings(host=host, port=port))


@pytest.fixture
def project():
    return uuid.uuid4()


def unit(*values: float) -> list[float]:
    v = np.zeros(8, dtype=np.float32)
    v[: len(values)] = values
    return (v / np.linalg.norm(v)).tolist()


def meta(project, i, **extra):
    row = {"source_type": "chatwoot_message", "source_table": "cw_messages", "source_pk": f"cwmsg:{i}",
           "chunk_index": 0, "text_hash": "h" * 64, "source_ts": datetime(2026, 1, i + 1, tzinfo=UTC), **extra}
    return chunk_metadata(row, project)


def test_collection_name_is_45_chars_per_project_and_model():
    p = uuid.UUID("5f0b3c1e-0000-4000-8000-0000000000e1")
    name = collection_name(p, "local:use-multilingual-v3:512")
    assert len(name) == 45 and name.startswith("rag_5f0b3c1e000040008000" + "0000000000e1_")
    assert collection_name(str(p).upper(), "local:use-multilingual-v3:512") == name
    assert collection_name(p, "openai:text-embedding-3-small:1536") != name


def test_chunk_metadata_drops_nulls_and_uses_epoch_seconds():
    m = chunk_metadata({"source_type": "linear_issue", "source_table": "linear_issues_raw", "source_pk": "x",
                        "chunk_index": 2, "text_hash": "a" * 64, "source_ts": None,
                        "conversation_global_id": None, "message_global_id": "m", "project_id": "p"})
    assert m == {"project_id": "p", "source_type": "linear_issue", "source_table": "linear_issues_raw",
                 "source_pk": "x", "chunk_index": 2, "text_hash": "a" * 64, "source_ts": 0, "message_global_id": "m"}


def test_where_filter_combines_with_and():
    assert where_filter() is None
    assert where_filter(conversation_global_id="cw:1") == {"conversation_global_id": {"$eq": "cw:1"}}
    w = where_filter(source_types=["attio_note"], ts_from=datetime(2026, 1, 1, tzinfo=UTC),
                     ts_to=datetime(2026, 1, 2, tzinfo=UTC))
    assert w == {"$and": [{"source_type": {"$in": ["attio_note"]}}, {"source_ts": {"$gte": 1767225600}},
                          {"source_ts": {"$lte": 1767312000}}]}


def test_upsert_query_delete_round_trip(store, project):
    col = store.collection(project, MODEL_KEY)
    assert col.query(unit(1), k=5) == []  # no collection yet: empty dense list, nothing created
    assert store.project_collections(project) == []
    ids = [str(uuid.uuid4()) for _ in range(3)]
    vectors = np.array([unit(1), unit(1, 1), unit(0, 0, 1)], dtype=np.float32)
    assert col.upsert(ids, vectors, [meta(project, i) for i in range(3)]) == 3
    hits = col.query(unit(1), k=10)
    assert [h.id for h in hits] == ids
    assert hits[0].distance == pytest.approx(0.0, abs=1e-5) and hits[0].dense_score == pytest.approx(1.0, abs=1e-5)
    assert hits[1].dense_score == pytest.approx(np.sqrt(0.5), abs=1e-4)  # cosine space
    assert hits[0].metadata["source_pk"] == "cwmsg:0" and hits[0].metadata["project_id"] == str(project)

    col.upsert([ids[2]], np.array([unit(1)]), [meta(project, 2)])  # same id: overwrite, not a new item
    assert col.count() == 3
    col.delete([ids[0], "not-there"])
    assert sorted(col.list_ids()) == sorted(ids[1:])


def test_query_filters_with_where(store, project):
    col = store.collection(project, MODEL_KEY)
    ids = ["a", "b", "c"]
    col.upsert(ids, np.array([unit(1), unit(1, 0.1), unit(1, 0.2)]),
               [meta(project, 0), meta(project, 1, conversation_global_id="cw:9"),
                meta(project, 2, source_type="attio_note")])
    assert [h.id for h in col.query(unit(1), 10, where_filter(conversation_global_id="cw:9"))] == ["b"]
    assert [h.id for h in col.query(unit(1), 10, where_filter(source_types=["attio_note"]))] == ["c"]
    since = where_filter(ts_from=datetime(2026, 1, 2, tzinfo=UTC))
    assert sorted(h.id for h in col.query(unit(1), 10, since)) == ["b", "c"]


def test_list_ids_pages_through_everything(store, project):
    col = store.collection(project, MODEL_KEY)
    ids = [f"id-{i:03d}" for i in range(25)]
    col.upsert(ids, np.tile(np.array(unit(1), dtype=np.float32), (25, 1)), [meta(project, 0)] * 25)
    assert sorted(col.list_ids(page_size=10)) == ids


def test_projects_and_models_are_separate_collections(store, project):
    other = uuid.uuid4()
    store.collection(project, MODEL_KEY).upsert(["x"], np.array([unit(1)]), [meta(project, 0)])
    store.collection(project, "local:use-multilingual-v3:512").upsert(
        ["y"], np.ones((1, 512), dtype=np.float32) / np.sqrt(512), [meta(project, 0)])
    store.collection(other, MODEL_KEY).upsert(["z"], np.array([unit(1)]), [meta(other, 0)])

    assert [h.id for h in store.collection(project, MODEL_KEY).query(unit(1), 10)] == ["x"]
    keys = sorted(c.model_key for c in store.project_collections(project))
    assert keys == sorted([MODEL_KEY, "local:use-multilingual-v3:512"])

    assert store.drop_project(project) == 2
    assert store.project_collections(project) == []
    assert store.collection(project, MODEL_KEY).query(unit(1), 10) == []
    assert [h.id for h in store.collection(other, MODEL_KEY).query(unit(1), 10)] == ["z"]


def test_collection_is_cosine_without_embedding_function(store, project):
    col = store.collection(project, MODEL_KEY)
    col.upsert(["a"], np.array([unit(1)]), [meta(project, 0)])
    raw = store.client.get_collection(col.name, embedding_function=None)
    assert raw.configuration_json["hnsw"]["space"] == "cosine"
    assert raw.configuration_json["hnsw"]["ef_search"] == 40
    assert raw.metadata == {"project_id": str(project), "model_key": MODEL_KEY, "dim": 8}


def test_unreachable_server_is_vector_store_unavailable():
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    store = VectorStore(VectorStoreSettings(host="127.0.0.1", port=port))
    assert store.heartbeat() is False
    with pytest.raises(VectorStoreUnavailable):
        store.collection(uuid.uuid4(), MODEL_KEY).query(unit(1), 5)


def test_settings_from_env():
    s = VectorStoreSettings.from_env({"CHROMA_HOST": "chroma.internal", "CHROMA_PORT": "9000",
                                      "SEARCH_HNSW_EF_SEARCH": "5000"})
    assert (s.mode, s.host, s.port, s.ef_search) == ("http", "chroma.internal", 9000, 1000)
    assert VectorStoreSettings.from_env({}) == VectorStoreSettings()
    with pytest.raises(ValueError):
        VectorStoreSettings.from_env({"CHROMA_MODE": "persistent"})


def test_ephemeral_mode_serves_unit_tests_in_process(project):
    store = VectorStore(VectorStoreSettings(mode="ephemeral"))
    col = store.collection(project, MODEL_KEY)
    col.upsert(["e1"], np.array([unit(1)]), [meta(project, 0)])
    assert [h.id for h in col.query(unit(1), 3)] == ["e1"]
    assert store.drop_project(project) == 1


def test_cached_handle_survives_a_dropped_collection(store, project, chroma_server):
    col = store.collection(project, MODEL_KEY)
    assert store.collection(str(project).upper(), MODEL_KEY) is col  # one handle per (project, model)
    col.upsert(["a"], [unit(1.0)], [meta(project, 0)])
    other_process = VectorStore(VectorStoreSettings(host=chroma_server[0], port=chroma_server[1]))
    assert other_process.drop_project(project) == 1
    assert col.query(unit(1.0), 3) == [] and col.count() == 0
    col.upsert(["b"], [unit(0.0, 1.0)], [meta(project, 1)])  # recreated on the next write
    assert [h.id for h in col.query(unit(0.0, 1.0), 3)] == ["b"]


def test_delete_chunk_vectors_reaches_every_model_and_is_best_effort(store, project):
    store.collection(project, MODEL_KEY).upsert(["a", "b"], [unit(1.0), unit(0.0, 1.0)],
                                                [meta(project, 0), meta(project, 1)])
    store.collection(project, "other:model:8").upsert(["a"], [unit(1.0)], [meta(project, 0)])
    assert store.delete_chunk_vectors(project, ["a"]) is True
    assert list(store.collection(project, MODEL_KEY).list_ids()) == ["b"]
    assert store.collection(project, "other:model:8").count() == 0
    down = VectorStore(VectorStoreSettings(host="127.0.0.1", port=1))
    assert down.delete_chunk_vectors(project, ["b"]) is False
