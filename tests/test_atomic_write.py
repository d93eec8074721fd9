"""atomic_write never shows a file's name in its errors (letters are named by student ids) and never derives
its temporary name from it: a full disk or a read-only folder names the folder only."""

from __future__ import annotations

import errno
import os
import re

import pandas as pd
import pytest

from psyscreen.io import atomic_write
from psyscreen.report.letters import write_letters

SID = "0456171197"


def _fail_replace(monkeypatch, code=errno.ENOSPC):
    seen = []

    def replace(src, dst):
        seen.append(os.path.basename(src))
        raise OSError(code, os.strerror(code), str(src), str(dst))  # what the system raises, both names in it
    monkeypatch.setattr(os, "replace", replace)
    return seen


def test_a_full_disk_names_the_folder_not_the_file(tmp_path, monkeypatch):
    seen = _fail_replace(monkeypatch)
    target = tmp_path / f"{SID}.html"
    with pytest.raises(OSError) as info:
        atomic_write(target, b"<p>letter</p>")
    assert info.value.errno == errno.ENOSPC
    assert SID not in str(info.value) and str(tmp_path) in str(info.value)
    assert SID not in seen[0] and re.fullmatch(r"\.psyscreen-[^/]+\.tmp\.html", seen[0])
    assert not target.exists() and os.listdir(tmp_path) == []  # the temporary file is removed


def test_a_read_only_folder_names_the_folder_not_the_file(tmp_path, monkeypatch):
    real_open = os.open

    def read_only(path, flags, *args, **kwargs):  # the folder refuses new files (simulated: root ignores chmod)
        if os.path.dirname(os.fspath(path)) == str(tmp_path) and flags & os.O_CREAT:
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), os.fspath(path))
        return real_open(path, flags, *args, **kwargs)
    monkeypatch.setattr(os, "open", read_only)
    with pytest.raises(PermissionError) as info:
        atomic_write(tmp_path / f"{SID}.html", b"x")
    assert SID not in str(info.value) and str(tmp_path) in str(info.value)


def test_a_writer_failing_with_its_own_message_shows_no_file_name(tmp_path):
    def writer(tmp):
        raise OSError(f"cannot save {tmp} as {tmp_path / (SID + '.xlsx')}")  # no errno: a library's own message
    with pytest.raises(OSError) as info:
        atomic_write(tmp_path / f"{SID}.xlsx", writer)
    assert SID not in str(info.value) and str(tmp_path) in str(info.value)
    assert os.listdir(tmp_path) == []


def test_dotted_names_keep_only_a_real_extension_on_the_temporary_file(tmp_path, monkeypatch):
    seen = _fail_replace(monkeypatch)
    for name in (f"a.{SID}", f"{SID}.parquet"):
        with pytest.raises(OSError):
            atomic_write(tmp_path / name, b"x")
    assert all(SID not in s for s in seen)
    assert seen[0].endswith(".tmp") and seen[1].endswith(".tmp.parquet")


def test_letters_in_a_full_folder_fail_without_a_student_id(tmp_path, monkeypatch):
    _fail_replace(monkeypatch)
    rows = pd.DataFrame({"student_key": [SID], "student_id": [SID], "name": ["学生"], "school": ["一中"],
                         "grade": [8], "class": ["1"], "class_file": ["8-1"], "class_title": ["8年级1班"],
                         "wave": ["2026-09"], "level_label": ["一级"], "action": ["请今天联系班主任"],
                         "colour": ["#c00000"]})
    with pytest.raises(OSError) as info:
        write_letters(rows, tmp_path / "letters")
    assert SID not in str(info.value) and "letters" in str(info.value)
