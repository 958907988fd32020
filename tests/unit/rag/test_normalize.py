from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from shared.normalize import clean_json, clean_text, clip, env_bool, env_int, iso_z, parse_date, parse_ts, to_int


@pytest.mark.parametrize(
    ("value", "n", "expected"),
    [
        (None, 5, None),
        ("  hello world  ", 5, "hello"),
        ("   ", 5, None),
        ("", 5, None),
        (12345678, 4, "1234"),
        ("abc", 10, "abc"),
    ],
)
def test_clip_trims_drops_empty_and_cuts(value, n, expected):
    assert clip(value, n) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (True, None),
        (False, None),
        (42, 42),
        (-7, -7),
        (12.9, 12),
        (-12.9, -12),
        (float("nan"), None),
        (float("inf"), None),
        ("12", 12),
        (" -3 ", -3),
        ("12.7", 12),
        ("-12.7", -12),
        (".5", 0),
        ("1e3", None),
        ("abc", None),
        ("", None),
        ("12abc", None),
        ("NaN", None),
        ("9" * 5000, None),
        (Decimal("3.9"), 3),
        (None, None),
        ([1], None),
    ],
)
def test_to_int_rules(value, expected):
    assert to_int(value) == expected


def test_to_int_keeps_big_vendor_ids_exact():
    assert to_int("123456789012345678901") == 123456789012345678901
    assert to_int("123456789012345678901.9") == 123456789012345678901


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1_700_000_000, datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)),
        (1_700_000_000_123, datetime(2023, 11, 14, 22, 13, 20, 123000, tzinfo=UTC)),
        ("1700000000", datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)),
        (1_700_000_000.5, datetime(2023, 11, 14, 22, 13, 20, 500000, tzinfo=UTC)),
        (9_999_999_999, datetime(2286, 11, 20, 17, 46, 39, tzinfo=UTC)),  # just below: seconds
        (10_000_000_000, datetime(1970, 4, 26, 17, 46, 40, tzinfo=UTC)),  # threshold: milliseconds
        (-86_400, datetime(1969, 12, 31, tzinfo=UTC)),
        ("2024-03-01T10:20:30Z", datetime(2024, 3, 1, 10, 20, 30, tzinfo=UTC)),
        ("2024-03-01T10:20:30.123456789Z", datetime(2024, 3, 1, 10, 20, 30, 123456, tzinfo=UTC)),
        ("2024-03-01T10:20:30.1+03:00", datetime(2024, 3, 1, 7, 20, 30, 100000, tzinfo=UTC)),
        ("2024-03-01T10:20:30-05:30", datetime(2024, 3, 1, 15, 50, 30, tzinfo=UTC)),
        ("2024-03-01T10:20:30", datetime(2024, 3, 1, 10, 20, 30, tzinfo=UTC)),  # naive = UTC
        ("2024-03-01", datetime(2024, 3, 1, tzinfo=UTC)),  # date only = midnight UTC
        (None, None),
        ("", None),
        ("   ", None),
        ("garbage", None),
        ("2024-02-30T00:00:00Z", None),
        ("2024-03-01T25:00:00Z", None),
        (float("nan"), None),
        (True, None),
        (10**30, None),
    ],
)
def test_parse_ts_rules(value, expected):
    got = parse_ts(value)
    assert got == expected
    if got is not None:
        assert got.tzinfo is not None and got.utcoffset() == timedelta(0)


def test_parse_ts_converts_aware_datetime_to_utc():
    moscow = timezone(timedelta(hours=3))
    assert parse_ts(datetime(2024, 1, 1, 12, tzinfo=moscow)) == datetime(2024, 1, 1, 9, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2024-05-06", date(2024, 5, 6)),
        ("2024-05-06T23:59:59Z", date(2024, 5, 6)),
        ("2024-02-30", None),
        ("2024-5-6", None),
        ("06/05/2024", None),
        ("", None),
        (None, None),
        (20240506, None),
    ],
)
def test_parse_date_uses_first_ten_characters(value, expected):
    assert parse_date(value) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [(None, 7), ("12", 12), (" 12 ", 12), ("0", 1), ("999", 100), ("-5", 1), ("1.5", 7), ("x", 7), ("", 7)],
)
def test_env_int_defaults_on_bad_input_and_clamps(raw, expected):
    environ = {} if raw is None else {"N": raw}
    assert env_int("N", 7, 1, 100, environ) == expected


def test_env_int_reads_os_environ_by_default(monkeypatch):
    monkeypatch.setenv("KEEL_TEST_N", "42")
    assert env_int("KEEL_TEST_N", 1, 0, 100) == 42


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("1", True), ("true", True), (" YES ", True), ("On", True),
        ("0", False), ("false", False), ("No", False), ("off", False),
        ("maybe", None), ("", None), (None, None),
    ],
)
def test_env_bool_words(raw, expected):
    environ = {} if raw is None else {"B": raw}
    for default in (True, False):
        assert env_bool("B", default, environ) is (default if expected is None else expected)


def test_clean_text_removes_nul_and_replaces_lone_surrogates():
    assert clean_text("a\x00b") == "ab"
    assert clean_text("x\ud800y") == "x\ufffdy"
    assert clean_text("\udfff") == "\ufffd"
    assert clean_text("ok ✓ привет 😀") == "ok ✓ привет 😀"
    # a surrogate pair split into two code points is joined back, not replaced
    assert clean_text("\ud83d\ude00") == "😀"
    assert clean_text("\x00\ud800") == "\ufffd"


def test_clean_text_output_is_encodable_utf8():
    clean_text("bad \ud800 text \x00").encode("utf-8")


def test_clean_json_recurses_into_keys_values_and_drops_non_finite_floats():
    raw = {"a\x00": ["x\x00", {"k\ud800": float("nan")}, 1.5, float("-inf")], "n": 3, "b": None, 7: ("t\x00",)}
    assert clean_json(raw) == {"a": ["x", {"k\ufffd": None}, 1.5, None], "n": 3, "b": None, 7: ["t"]}


def test_iso_z_formats_utc_with_milliseconds():
    assert iso_z(datetime(2026, 2, 10, 9, 12, 0, 120999, tzinfo=UTC)) == "2026-02-10T09:12:00.120Z"
    assert iso_z(datetime(2026, 2, 10, 12, 12, tzinfo=timezone(timedelta(hours=3)))) == "2026-02-10T09:12:00.000Z"
    assert iso_z(datetime(2026, 2, 10, 9, 12)) == "2026-02-10T09:12:00.000Z"
    assert iso_z(None) is None
