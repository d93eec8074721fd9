"""``psyscreen key new`` and key files: owner-only, never overwritten silently, line endings not part of a key."""

from __future__ import annotations

import os
import stat

import pandas as pd
from click.testing import CliRunner

from psyscreen.cli import main
from psyscreen.privacy import KeyFileError, load_key, pseudonymise


def test_key_new_writes_an_owner_only_key_that_screen_can_load(tmp_path):
    path = tmp_path / "county.key"
    res = CliRunner().invoke(main, ["key", "new", str(path), "--lang", "en"])
    assert res.exit_code == 0, res.output
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    key = load_key(path)
    assert len(key) == 32
    assert key.hex() not in res.output  # the key is never printed
    assert str(path) in res.output and "0600" in res.output


def test_key_new_refuses_to_overwrite_unless_forced(tmp_path):
    path = tmp_path / "county.key"
    runner = CliRunner()
    assert runner.invoke(main, ["key", "new", str(path)]).exit_code == 0
    before = path.read_bytes()
    again = runner.invoke(main, ["key", "new", str(path), "--lang", "en"])
    assert again.exit_code == 1 and "--force" in again.output and "kept" in again.output
    assert path.read_bytes() == before
    zh = runner.invoke(main, ["key", "new", str(path)])
    assert zh.exit_code == 1 and "--force" in zh.output and "已有密钥" in zh.output
    forced = runner.invoke(main, ["key", "new", str(path), "--force"])
    assert forced.exit_code == 0 and path.read_bytes() != before
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600


def test_key_new_into_a_missing_folder_says_what_to_do(tmp_path):
    res = CliRunner().invoke(main, ["key", "new", str(tmp_path / "nowhere" / "k.key"), "--lang", "en"])
    assert res.exit_code == 1 and "Create the folder" in res.output and "Traceback" not in res.output


def test_key_errors_name_the_command_that_makes_a_key(tmp_path):
    for path, content in ((tmp_path / "absent.key", None), (tmp_path / "empty.key", b"\n"),
                          (tmp_path / "short.key", b"abc\n")):
        if content is not None:
            path.write_bytes(content)
        try:
            load_key(path)
        except KeyFileError as exc:
            assert "psyscreen key new" in str(exc) and "privacy.new_key" not in str(exc)
        else:
            raise AssertionError(f"{path.name} loaded")


def test_passphrase_line_endings_give_the_same_pseudonyms(tmp_path):
    phrase = b"Qingshan county screening key 2026, keep it safe"
    ids = pd.Series(["0456171197", "0000012345", "20260001"])
    out = {}
    for name, ending in (("lf", b"\n"), ("crlf", b"\r\n"), ("none", b""), ("cr", b"\r")):
        path = tmp_path / f"{name}.key"
        path.write_bytes(phrase + ending)
        out[name] = pseudonymise(ids, load_key(path)).tolist()
    assert out["lf"] == out["crlf"] == out["none"] == out["cr"]
    # a different passphrase (an inner space more) is a different key
    other = tmp_path / "other.key"
    other.write_bytes(phrase.replace(b" ", b"  ", 1) + b"\n")
    assert pseudonymise(ids, load_key(other)).tolist() != out["lf"]
