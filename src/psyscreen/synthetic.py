"""Synthetic cohorts for demos, tests and benchmarks (no real student anywhere in this repository).

Answers are drawn from a latent-trait model: every student has correlated latent depression and anxiety
(correlation 0.7), shifted a little by sex and grade, and each item follows Samejima's graded response
model, ``P(X >= k) = logistic(a (theta - b_k))``. Scales therefore correlate and have realistic
reliabilities (alpha about 0.85), a few per cent of students are elevated and a handful answer the PHQ-9
suicide item. A second wave keeps each student's trait with a test-retest correlation of about 0.7.

Examples
--------
>>> cohort = simulate_students(200, seed=1)
>>> answers = simulate_answers(cohort, ["phq9", "gad7"], seed=2)
>>> answers.shape, sorted(answers.columns)[:2]
((200, 17), ['gad7.1', 'gad7.2'])
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .instrument import load_instrument

__all__ = ["simulate_students", "simulate_answers", "next_wave", "SURNAMES"]

SURNAMES = list("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈")
GIVEN = list("子涵欣怡梓轩浩宇诗雨晨博文一诺佳琪思远俊杰雨桐明轩嘉怡若曦宇航心怡天佑婉清泽宇可馨梓萱铭浩")


@dataclass(frozen=True)
class _Item:
    """Graded-response parameters for one item: discrimination and ordered thresholds."""

    a: float
    b: np.ndarray


# Which latent trait drives each instrument, and how rare its top answers are. Unknown instruments load on a
# general distress trait (the mean of the two).
TRAIT = {"phq9": "dep", "phqa": "dep", "cesd": "dep", "cesdc": "dep", "gad7": "anx", "scared": "anx"}


def simulate_students(n: int, *, seed: int = 0, grades=range(4, 13), schools=None) -> pd.DataFrame:
    """A synthetic roster with latent traits.

    Parameters
    ----------
    n : int
        Number of students.
    seed : int
        Seed of the random generator (the roster is deterministic for a seed).
    grades : iterable of int
        Grades to draw from (4-12: primary 4 to senior 3).
    schools : list of str, optional
        School names to draw from; default three generic names.

    Returns
    -------
    DataFrame
        ``student_id`` (text with leading zeros), ``name``, ``school``, ``grade``, ``class``, ``sex``
        (``男``/``女``) and the latent traits ``dep`` and ``anx``.
    """
    rng = np.random.default_rng(seed)
    schools = schools or ["一中", "二中", "三中"]
    grades = np.array(list(grades))
    sex = rng.choice(np.array(["男", "女"]), n)
    grade = rng.choice(grades, n)
    z = rng.multivariate_normal([0, 0], [[1, 0.7], [0.7, 1]], n)
    # girls and older students score a little higher (Healthcare 2021;9(12):1709, research/instruments.md 1c)
    shift = 0.25 * (sex == "女") + 0.04 * (grade - grades.mean())
    given = rng.choice(np.array(GIVEN), (n, 2))
    names = np.char.add(np.char.add(rng.choice(np.array(SURNAMES), n), given[:, 0]), given[:, 1])
    return pd.DataFrame({
        "student_id": np.char.zfill(rng.choice(10**9, n, replace=False).astype(str), 10),
        "name": names,
        "school": rng.choice(np.array(schools), n),
        "grade": grade,
        "class": rng.integers(1, 7, n),
        "sex": sex,
        "dep": z[:, 0] + shift,
        "anx": z[:, 1] + shift,
    })


def _item_parameters(inst, rng) -> list[_Item]:
    params = []
    for it in inst.item_list:
        codes = inst.item_codes(it.number)
        k = len(codes) - 1
        a = rng.uniform(1.6, 2.4)
        base = np.linspace(1.0, 2.7, k) if k > 1 else np.array([1.0])
        b = base + rng.normal(0, 0.15)
        if any(c.item == it.number for c in inst.critical):
            b = b + 1.7  # suicide items are answered rarely
        params.append(_Item(a, np.sort(b)))
    return params


def simulate_answers(students: pd.DataFrame, instruments, *, seed: int = 0, missing_rate: float = 0.0) -> pd.DataFrame:
    """Answers of a roster to instruments, drawn from the graded response model (vectorised per item).

    Parameters
    ----------
    students : DataFrame
        From :func:`simulate_students` (needs the ``dep`` and ``anx`` columns).
    instruments : list of str
    seed : int
    missing_rate : float
        Probability that any one answer is left blank.

    Returns
    -------
    DataFrame
        Item columns ``<instrument>.<item>`` with response codes (float, NaN = blank), same index.
    """
    rng = np.random.default_rng(seed)
    n = len(students)
    out = {}
    for iid in instruments:
        inst = load_instrument(iid)
        trait = TRAIT.get(iid)
        theta = (students[trait] if trait else (students["dep"] + students["anx"]) / 2).to_numpy()
        for it, p in zip(inst.item_list, _item_parameters(inst, rng)):
            codes = inst.item_codes(it.number)
            t = theta if not it.reverse else -theta
            # P(X >= k) for k = 1..K, then the category is the number of thresholds passed
            prob = 1.0 / (1.0 + np.exp(-p.a * (t[:, None] - p.b[None, :])))
            steps = (rng.random((n, 1)) < prob).sum(axis=1)
            x = codes[np.minimum(steps, len(codes) - 1)].astype(float)
            if missing_rate:
                x[rng.random(n) < missing_rate] = np.nan
            out[f"{iid}.{it.number}"] = x
    return pd.DataFrame(out, index=students.index)


def next_wave(students: pd.DataFrame, *, seed: int = 0, stability: float = 0.7, promote: bool = True) -> pd.DataFrame:
    """The same students one screening later: traits with correlation ``stability``, grades moved up a year.

    Students leaving after grade 12 are dropped; nobody new is added (add a new roster for newcomers).
    """
    rng = np.random.default_rng(seed)
    nxt = students.copy()
    for trait in ("dep", "anx"):
        # same mean and sd as before, correlation `stability` with the previous wave
        x = students[trait].to_numpy()
        m, sd = x.mean(), x.std()
        nxt[trait] = m + stability * (x - m) + np.sqrt(1 - stability**2) * sd * rng.standard_normal(len(x))
    if promote:
        nxt["grade"] = nxt["grade"] + 1
        nxt = nxt[nxt["grade"] <= 12]
    return nxt
