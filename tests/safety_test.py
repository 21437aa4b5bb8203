"""The guards at trust boundaries, on plain values (the CLI paths are in fuzz_test and
secrets_test)."""

from __future__ import annotations

import json

import pytest

from hex_exposures import safety
from hex_exposures.errors import ConfigError


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("0e50c729-fd95-48e8-829b-d06d60a28ebd", True),
        ("0E50C729-FD95-48E8-829B-D06D60A28EBD", True),
        ("0e50c729fd9548e8829bd06d60a28ebd", False),
        ("0e50c729-fd95-48e8-829b-d06d60a28ebd\n", False),
        ("{{ env_var('X') }}", False),
        ("", False),
        (None, False),
    ],
)
def test_is_uuid(value: object, ok: bool) -> None:
    assert safety.is_uuid(value) is ok


@pytest.mark.parametrize(
    ("host", "ok"),
    [
        ("127.0.0.1", True),
        ("127.255.0.9", True),
        ("::1", True),
        ("[::1]", True),
        ("localhost", True),
        ("LOCALHOST", True),
        ("localhost.evil.com", False),
        ("0.0.0.0", False),
        ("10.0.0.1", False),
        ("app.hex.tech", False),
    ],
)
def test_is_loopback(host: str, ok: bool) -> None:
    assert safety.is_loopback(host) is ok


def test_link_base_encodes_the_path_and_refuses_odd_hosts() -> None:
    scheme, netloc, path = safety.link_base("https://App.Hex.Tech/{{ x }}/%7Bok")
    assert (scheme, netloc, path) == ("https", "app.hex.tech", "/%7B%7B%20x%20%7D%7D/%7Bok")
    for bad in ("https://{{x}}.hex.tech", "https://a@b.c", "ftp://app.hex.tech", "https://h:x"):
        with pytest.raises(ValueError):
            safety.link_base(bad)


@pytest.mark.parametrize(
    ("output", "ok"),
    [
        ("/p/models/hex_exposures.yml", True),
        ("/p/models/a/b.yml", True),
        ("/p/seeds/x.yml", True),
        ("/p/models/../seeds/x.yml", True),
        ("/p/models/x.yaml", False),
        ("/p/dbt_project.yml", False),
        ("/p/x.yml", False),
        ("/p/models/../../x.yml", False),
        ("/elsewhere/models/x.yml", False),
        ("/p/models", False),
    ],
)
def test_check_output(output: str, ok: bool) -> None:
    if ok:
        assert safety.check_output(output, "/p", ["models", "seeds/"]).startswith("/p/")
    else:
        with pytest.raises(ConfigError, match="--output"):
            safety.check_output(output, "/p", ["models", "seeds/"])


def test_a_resource_path_outside_the_project_does_not_count() -> None:
    with pytest.raises(ConfigError, match="none inside the project"):
        safety.check_output("/shared/x.yml", "/p", ["../shared"])


def test_fix_surrogates_is_iterative_and_fixes_keys_too() -> None:
    deep: list[object] = ["\ud83d"]
    for _ in range(50_000):  # far past the recursion limit
        deep = [deep]
    fixed = safety.fix_surrogates({"k\udc00": deep, "ok": "😀"})
    assert set(fixed) == {"k\ufffd", "ok"} and fixed["ok"] == "😀"
    inner = fixed["k\ufffd"]
    while isinstance(inner, list) and isinstance(inner[0], list):
        inner = inner[0]
    assert inner == ["\ufffd"]


def test_may_hold_surrogates_skips_paired_escapes() -> None:
    assert not safety.may_hold_surrogates(json.dumps("😀 plain").encode())
    assert safety.may_hold_surrogates(json.dumps("\ud83d").encode())
    assert safety.may_hold_surrogates(json.dumps("x\udc00").encode())


def test_terminal_text_keeps_plain_text_and_drops_escapes() -> None:
    assert safety.terminal_text("Ventes été – 売上 📈\tok\n") == "Ventes été – 売上 📈\tok\n"
    text = "a\x1b[31mred\x1b[0m \x1b]8;;https://x\x07link\x1b]8;;\x07 \u202eb\r\n"
    assert safety.terminal_text(text) == "ared link b\n"
    assert safety.terminal_text("two\nlines\tx", one_line=True) == "two lines x"
