"""``psyscreen analyze irt``: the workbook holds the figures the Python API gives (and those equal mirt's, see
tests/test_irt_itemfit.py); plus the notebook notebooks/irt_of_a_screening_scale.ipynb, run top to bottom."""

from __future__ import annotations

import json

import nbformat
import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from psyscreen import irt
from psyscreen.analysis_report import read_sheet
from psyscreen.cli import main
from tests.test_notebooks import NOTEBOOKS, execute


def run(args, ok=True):
    result = CliRunner().invoke(main, ["analyze", *map(str, args)], catch_exceptions=False)
    assert (result.exit_code == 0) == ok, result.output
    return result


@pytest.fixture(scope="module")
def phq9(tmp_path_factory):
    """PHQ-9-like answers 0..3 simulated from a graded model; item 6 is harder for boys (DIF by design)."""
    rng = np.random.default_rng(12)
    n = 1200
    sex = np.repeat(["F", "M"], n // 2)
    theta = rng.normal(size=n)
    cols = {}
    for i, c in enumerate(np.linspace(0.2, 1.4, 9), start=1):
        s = c + (np.where(sex == "M", 1.0, 0.0) if i == 6 else 0.0)
        lat = 1.6 * theta + rng.logistic(size=n)
        cols[f"phq9.{i}"] = (lat > s).astype(int) + (lat > s + 1.2) + (lat > s + 2.4)
    frame = pd.DataFrame(cols)
    frame["sex"] = sex
    path = tmp_path_factory.mktemp("irt") / "phq9.csv"
    frame.to_csv(path, index=False)
    return path, frame


def test_workbook_holds_parameters_fit_cutoffs_and_dif(phq9, tmp_path):
    path, frame = phq9
    out = tmp_path / "irt.xlsx"
    run(["irt", path, "--instrument", "phq9", "--group", "sex", "-o", out])
    items = frame.drop(columns="sex")
    res = irt.fit(items, "graded")
    params = read_sheet(out, "irt_items")
    np.testing.assert_allclose(params["a1"], res.params.a, rtol=1e-9)
    fit = read_sheet(out, "irt_itemfit")
    np.testing.assert_allclose(fit["S_X2"], irt.itemfit(res, items).table["S_X2"], rtol=1e-9)
    m2 = read_sheet(out, "irt_m2")
    assert m2["type"].iloc[0] == "C2" and m2["M2"].iloc[0] == pytest.approx(irt.m2(res, items, type="C2").M2)
    cut = read_sheet(out, "irt_cutoffs")
    # PHQ-9 bands start at 5, 10, 15, 20: four cutoffs, placed on theta by the summed-score EAP table
    assert cut.shape[1] == 1 + 4 and "total 10" in " ".join(map(str, cut.columns))
    test_info = cut.set_index(cut.columns[0]).loc["test information"].astype(float)
    expected = res.information_at([5, 10, 15, 20], scale="raw").loc["test information"]
    np.testing.assert_allclose(test_info.to_numpy(), expected.to_numpy(), rtol=1e-9)
    dif = read_sheet(out, "irt_dif")
    assert dif.loc[dif["dif"].astype(bool), "item"].tolist() == ["phq9.6"]


def test_html_report_has_the_curves_and_explicit_cutoffs(phq9, tmp_path):
    path, _ = phq9
    out = tmp_path / "irt.html"
    run(["irt", path, "--items", ",".join(f"phq9.{i}" for i in range(1, 10)), "--cutoffs", "0,0.5",
         "--cutoff-scale", "theta", "--lang", "zh", "-o", out])
    text = out.read_text(encoding="utf-8")
    assert text.count("<img") >= 2 and "θ=0.5" in text
    assert "Differential item functioning" not in text                  # no --group, no DIF


def test_bad_input_is_one_line(phq9, tmp_path):
    path, _ = phq9
    res = run(["irt", path, "--items", "phq9.1,phq9.2,nope", "-o", tmp_path / "x.xlsx"], ok=False)
    assert "nope" in res.output and "Traceback" not in res.output
    res = run(["irt", path, "--instrument", "phq9", "--cutoffs", "ten", "-o", tmp_path / "x.xlsx"], ok=False)
    assert "--cutoffs must be numbers" in res.output


def test_notebook_is_committed_without_outputs():
    nb = nbformat.read(NOTEBOOKS / "irt_of_a_screening_scale.ipynb", as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code and all(not c.outputs and c.execution_count is None for c in code)
    assert nb.metadata["kernelspec"]["name"] == "python3"


def test_irt_notebook(tmp_path, monkeypatch):
    s = execute("irt_of_a_screening_scale.ipynb", tmp_path, monkeypatch)
    assert 1500 <= s["n"] <= 1700
    assert s["converged"] and s["n_items"] == 9
    assert all(0.3 < a < 5 for a in s["slopes"])
    assert s["info_at_cutoff"] > 1.0 and 0 < s["se_at_cutoff"] < 1.0
    assert 0.9 < s["r_eap_sum"] <= 1.0                                # the IRT score and the sum score agree
    assert s["dif_items_tested"] == 9 and set(s["dif_flagged"]) <= {f"phq9.{i}" for i in range(1, 10)}
    assert s["_images"] >= 3
    json.dumps(s)
