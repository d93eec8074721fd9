"""The worked notebooks in notebooks/ run from top to bottom and reach sane figures.

Each notebook is executed with nbclient (kernel "python3", working directory notebooks/), with
``PSYSCREEN_NB_SUMMARY`` pointing at a JSON file its last cell writes and ``PSYSCREEN_NB_OUT`` at a
temporary folder for the files it saves. The notebooks are committed without outputs.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


def execute(name: str, tmp_path: Path, monkeypatch) -> dict:
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    summary = tmp_path / "summary.json"
    monkeypatch.setenv("PSYSCREEN_NB_SUMMARY", str(summary))
    monkeypatch.setenv("PSYSCREEN_NB_OUT", str(tmp_path / "out"))
    client = NotebookClient(nb, timeout=120, kernel_name="python3",
                            resources={"metadata": {"path": str(NOTEBOOKS)}})
    client.execute(env=dict(os.environ))  # raises CellExecutionError on the first failing cell
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
              if o.get("output_type") == "error"]
    assert not errors
    result = json.loads(summary.read_text(encoding="utf-8"))
    result["_images"] = sum("image/png" in o.get("data", {}) for c in nb.cells if c.cell_type == "code"
                            for o in c.get("outputs", []))
    return result


@pytest.mark.parametrize("name", ["validate_a_scale.ipynb", "norms_by_grade_and_sex.ipynb"])
def test_notebooks_are_committed_without_outputs(name):
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code and all(not c.outputs and c.execution_count is None for c in code)
    assert nb.metadata["kernelspec"]["name"] == "python3"


def test_validate_a_scale(tmp_path, monkeypatch):
    s = execute("validate_a_scale.ipynb", tmp_path, monkeypatch)
    assert 1500 <= s["n"] <= 1700
    assert 0.75 < s["alpha"] < 0.95
    assert abs(s["omega_total"] - s["alpha"]) < 0.05          # one factor: omega total close to alpha
    assert 0.7 < s["split_half"] < 0.95
    assert s["parallel_n_factors"] == 1                         # the sample is simulated from one trait
    assert s["kmo"] > 0.8
    assert s["cfa_cfi"] > 0.95 and s["cfa_rmsea"] < 0.08 and s["cfa_srmr"] < 0.08
    assert s["efa_poly_mean_h2_gain"] > 0                       # polychoric: larger communalities than Pearson
    assert s["cfa_wlsmv_cfi_scaled"] > 0.95 and s["cfa_wlsmv_rmsea_scaled"] < 0.08
    assert s["omega_wlsmv"] > s["omega_ml"]                     # the notebook's text says ML attenuates
    assert s["fiml_rows_used"] > s["listwise_rows_used"]        # FIML keeps the students who skipped an item
    assert s["invariance_level"] in ("configural", "metric", "scalar", "strict")
    assert s["invariance_level_ordinal"] in ("configural", "thresholds", "metric", "scalar")
    assert 0.7 < s["auc"] < 1.0
    assert 0 < s["youden_threshold"] < 27
    assert s["_images"] == 3                                    # item shares, scree, ROC curve shown as PNG


def test_norms_by_grade_and_sex(tmp_path, monkeypatch):
    s = execute("norms_by_grade_and_sex.ipynb", tmp_path, monkeypatch)
    assert s["n_strata"] == 18                                  # grades 4-12 x two sexes
    assert s["scales"] == ["phq9.total", "gad7.total"]
    assert s["n_unseen"] == 0 and s["n_september_normed"] > 1400
    assert 0.03 < s["share_at_or_above_p90"] < 0.25             # a March P90 still cuts off about a tenth
    assert 0 < s["pr_min"] <= s["pr_max"] <= 100
    assert s["_images"] == 4                                    # two norm curves, percentile curves, T by grade
    # continuous norms: one model per sex; their P90 moves less under resampling than the conventional cells' P90
    assert s["continuous_strata"] == 2
    assert 0 < s["p90_width_continuous"] < s["p90_width_conventional"]
    assert s["p90_width_ratio_median"] < 0.9 and s["p90_cells_narrower"] >= 12
    for key in ("json", "xlsx"):
        path = Path(s[key])
        assert path.is_file() and path.parent == tmp_path / "out"
