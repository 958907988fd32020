import numpy as np
import pytest

from shared.embeddings import (
    EmbeddingDimensionMismatch,
    EmbeddingSettings,
    EmbeddingTransientError,
    MissingCredentials,
    ProviderUnavailable,
    clear_provider_cache,
    get_provider,
    prepare_text,
    provider_for,
)
from shared.embeddings.base import DIM_MISMATCH, MISSING, EmbeddingProvider
from shared.embeddings.hashing import HashingProvider


@pytest.fixture(autouse=True)
def _fresh_cache():
    clear_provider_cache()
    yield
    clear_provider_cache()


def test_prepare_text_collapses_trims_cuts_and_never_returns_empty():
    assert prepare_text("  a \n\t b  ") == "a b"
    assert prepare_text("   ") == " " and prepare_text("") == " " and prepare_text(None) == " "
    assert len(prepare_text("x" * 9000)) == 8000


def test_hashing_provider_is_deterministic_and_normalised():
    a = HashingProvider(dim=384).embed(["Счёт за март оплачен", "invoice paid", " "])
    b = HashingProvider(dim=384).embed(["Счёт за март оплачен", "invoice paid", " "])
    assert a.dtype == np.float32 and a.shape == (3, 384)
    assert np.array_equal(a, b)
    assert np.allclose(np.linalg.norm(a, axis=1), 1.0, atol=1e-5)


def test_hashing_provider_reflects_lexical_similarity():
    v = HashingProvider(dim=512).embed(["the invoice was paid", "the invoices were paid", "weather in Moscow"])
    assert v[0] @ v[1] > v[0] @ v[2]


def test_hashing_model_key():
    assert HashingProvider(dim=384).model_key == "hashing:char-ngram-hash:384"


def test_settings_from_env_use_provider_defaults_and_clamp():
    assert EmbeddingSettings.from_env({}) == EmbeddingSettings()
    s = EmbeddingSettings.from_env({"EMBEDDINGS_PROVIDER": " OpenAI ", "EMBEDDING_DIM": "99999",
                                    "OPENAI_BASE_URL": "http://x/v1/", "OPENAI_API_KEY": "sk-1",
                                    "OPENAI_EMBED_MAX_INPUTS": "500", "OPENAI_TIMEOUT_MS": "10"})
    assert (s.provider, s.model, s.dim) == ("openai", "text-embedding-3-small", 4096)
    assert (s.openai_base_url, s.openai_max_inputs, s.openai_timeout_ms) == ("http://x/v1", 100, 1000)
    assert "sk-1" not in repr(s)
    h = EmbeddingSettings.from_env({"EMBEDDINGS_PROVIDER": "hashing"})
    assert (h.model, h.dim) == ("char-ngram-hash", 384)
    # the local model is fixed whatever EMBEDDING_MODEL / EMBEDDING_DIM say (§7.6)
    loc = EmbeddingSettings.from_env({"EMBEDDING_MODEL": "other", "EMBEDDING_DIM": "1536"})
    assert (loc.model, loc.dim) == ("use-multilingual-v3", 512)
    with pytest.raises(ValueError, match="EMBEDDINGS_PROVIDER"):
        EmbeddingSettings.from_env({"EMBEDDINGS_PROVIDER": "magic"})


def test_provider_for_returns_one_instance_per_settings():
    s = EmbeddingSettings.for_provider("hashing")
    first = provider_for(s)
    assert provider_for(s) is first
    assert provider_for(EmbeddingSettings.for_provider("hashing")) is first  # equal settings, same provider
    assert provider_for({"EMBEDDINGS_PROVIDER": "hashing"}) is first
    assert get_provider(s) is not first  # the factory itself always builds


def test_openai_with_default_url_and_no_key_is_missing_credentials():
    with pytest.raises(MissingCredentials) as info:
        provider_for(EmbeddingSettings.for_provider("openai"))
    assert isinstance(info.value, ProviderUnavailable) and info.value.reason == "missing_credentials"


def test_unloadable_local_model_is_provider_unavailable(tmp_path):
    with pytest.raises(ProviderUnavailable) as info:
        get_provider(EmbeddingSettings(local_model_path=str(tmp_path)))
    assert info.value.code == "embeddings_unavailable" and info.value.status == 503


class _Scripted(EmbeddingProvider):
    name = "scripted"
    model, dim, max_batch = "m", 3, 2

    def __init__(self, rows):
        self.rows, self.calls = list(rows), []

    def _embed_raw(self, texts):
        self.calls.append(list(texts))
        out, self.rows = self.rows[:len(texts)], self.rows[len(texts):]
        return out, {}, "served-model"


def test_embed_batch_validates_each_vector_and_normalises():
    p = _Scripted([[3, 4, 0], [1, 2], [float("nan"), 0, 0], None, "bad", [0, 0, 0]])
    batch = p.embed_batch(["a", "b", "c", "d", "e", "f"])
    assert p.calls == [["a", "b"], ["c", "d"], ["e", "f"]]  # sub-batches of max_batch
    assert batch.errors == {1: DIM_MISMATCH, 2: MISSING, 3: MISSING, 4: MISSING, 5: MISSING}
    assert batch.ok_indexes == [0]
    assert np.allclose(batch.vectors[0], [0.6, 0.8, 0.0]) and not batch.vectors[1].any()
    assert batch.response_model == "served-model"
    with pytest.raises(EmbeddingTransientError):
        _Scripted([[1, 0, 0], None]).embed(["a", "b"])


def test_every_vector_with_the_wrong_length_is_a_configuration_error():
    with pytest.raises(EmbeddingDimensionMismatch):
        _Scripted([[1, 0], [0, 1]]).embed_batch(["a", "b"])


class _Matrix(_Scripted):
    def _embed_raw(self, texts):
        self.calls.append(list(texts))
        out, self.rows = self.rows[:len(texts)], self.rows[len(texts):]
        return np.asarray(out, dtype=np.float32), {}, None


def test_an_array_of_vectors_is_validated_like_a_list_of_them():
    rows = [[3, 4, 0], [float("nan"), 1, 1], [0, 0, 0], [1, 1, 1], [float("inf"), 0, 0], [2, 0, 0]]
    as_array, as_list = _Matrix(rows).embed_batch(list("abcdef")), _Scripted(rows).embed_batch(list("abcdef"))
    assert as_array.errors == as_list.errors == {1: MISSING, 2: MISSING, 4: MISSING}
    assert np.array_equal(as_array.vectors, as_list.vectors)
    assert np.allclose(np.linalg.norm(as_array.vectors[[0, 3, 5]], axis=1), 1.0)
