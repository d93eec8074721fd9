"""The README's notebook block runs as written, from the repository's root, on the sample county."""

from __future__ import annotations

import re
import warnings
from pathlib import Path

from psyscreen.exports import ExportsWarning

REPO = Path(__file__).resolve().parents[1]


def _notebook_block() -> str:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    section = text[text.index("## In a notebook"):]
    match = re.search(r"```python\n(.*?)```", section, flags=re.S)
    assert match, "README.md: no python block under '## In a notebook'"
    return match.group(1)


def test_readme_notebook_block_runs_as_written(monkeypatch):
    code = _notebook_block()
    assert "read_exports(\"data/sample/2026-09\"" in code and "data/sample/2026-03" in code
    monkeypatch.chdir(REPO)
    namespace: dict = {"__name__": "__readme__"}
    with warnings.catch_warnings():
        warnings.simplefilter("error", category=ExportsWarning)  # a partial read fails here
        exec(compile(code, "README.md", "exec"), namespace)  # noqa: S102 - our own README
    # every name the block uses is defined by the block itself, from the sample
    for name in ("frame", "items", "data", "march", "september", "scores", "norms"):
        assert name in namespace, name
    assert namespace["september"].ok and namespace["march"].ok
    assert len(namespace["frame"]) == len(namespace["scores"]) > 1000
    assert set(namespace["norms"].strata_) >= {(7, "F"), (7, "M")}
