"""The vendor HTTP client's pure parts: decoding, error classification (connectors-rag §1.3, §1.4)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from shared.errors import TransientError, UpstreamClientError
from shared.http import classify_response, decode_body, safe_url


def classify(status: int, body: bytes | str | dict = b"{}", *, headers: dict[str, str] | None = None,
             graphql: bool = False) -> dict:
    content = json.dumps(body).encode() if isinstance(body, dict) else body.encode() if isinstance(body, str) else body
    return classify_response(vendor="v", method="GET", url="http://h:1/p?api_key=secret", status=status,
                             headers={k.lower(): v for k, v in (headers or {}).items()}, content=content,
                             graphql=graphql)


def test_json_object_is_returned() -> None:
    assert classify(200, {"a": 1}) == {"a": 1}


@pytest.mark.parametrize("body", [b"", b"<html>oops</html>", b"[1, 2]", b'{"a": ', b"null"])
def test_malformed_or_non_object_2xx_is_transient_invalid_json(body: bytes) -> None:
    with pytest.raises(TransientError) as info:
        classify(200, body)
    assert info.value.error_kind == "invalid_json"


@pytest.mark.parametrize("status", [408, 429, 500, 502, 503, 504])
def test_transient_statuses(status: int) -> None:
    with pytest.raises(TransientError) as info:
        classify(status, "x")
    assert info.value.error_kind == f"http_{status}" and info.value.retry_after is None


def test_retry_after_seconds_and_http_date() -> None:
    with pytest.raises(TransientError) as info:
        classify(429, "x", headers={"Retry-After": "7"})
    assert info.value.retry_after == 7
    when = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    with pytest.raises(TransientError) as info:
        classify(503, "x", headers={"Retry-After": when})
    assert 25 <= info.value.retry_after <= 31


@pytest.mark.parametrize(("status", "kind"), [(401, "auth_failed"), (403, "auth_failed"), (404, "not_found"),
                                              (400, "http_400"), (410, "http_410"), (422, "http_422")])
def test_permanent_statuses(status: int, kind: str) -> None:
    with pytest.raises(UpstreamClientError) as info:
        classify(status, {"code": "x", "message": "secret detail"})
    assert info.value.error_kind == kind and info.value.status == status
    assert "secret" not in str(info.value)  # no query string, no vendor free text


def test_linear_ratelimited_400_is_transient_with_reset_header() -> None:
    reset = int((datetime.now(UTC).timestamp() + 4) * 1000)
    body = {"errors": [{"message": "Rate limit", "extensions": {"code": "RATELIMITED"}}]}
    with pytest.raises(TransientError) as info:
        classify(400, body, headers={"X-RateLimit-Requests-Reset": str(reset)}, graphql=True)
    assert info.value.error_kind == "rate_limited" and 2 < info.value.retry_after <= 4.5


@pytest.mark.parametrize("code", ["AUTHENTICATION_ERROR", "FORBIDDEN"])
def test_graphql_auth_codes_are_auth_failed(code: str) -> None:
    with pytest.raises(UpstreamClientError) as info:
        classify(200, {"data": None, "errors": [{"extensions": {"code": code}}]}, graphql=True)
    assert info.value.error_kind == "auth_failed"


def test_other_graphql_errors_are_permanent_even_with_data() -> None:
    with pytest.raises(UpstreamClientError) as info:
        classify(200, {"data": {"x": 1}, "errors": [{"extensions": {"code": "INVALID_INPUT"}}]}, graphql=True)
    assert info.value.error_kind == "graphql_error"
    with pytest.raises(UpstreamClientError) as info:
        classify(400, {"errors": [{"extensions": {"code": "GRAPHQL_VALIDATION_FAILED"}}]}, graphql=True)
    assert info.value.error_kind == "http_400"


def test_bytes_are_decoded_by_charset_with_replacement() -> None:
    assert decode_body("привет".encode("cp1251"), "application/json; charset=windows-1251") == "привет"
    assert decode_body(b"ok \xff\xfe", "application/json") == "ok \ufffd\ufffd"
    assert decode_body(b"abc", "application/json; charset=no-such-charset") == "abc"
    assert classify(200, b'{"t": "a\xffb"}') == {"t": "a\ufffdb"}


def test_safe_url_drops_query_and_credentials() -> None:
    assert safe_url("https://user:pw@api.example:8443/v2/x?token=abc#f") == "https://api.example:8443/v2/x"
