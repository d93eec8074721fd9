"""Demographic normalisation: grade, sex, class, school, id (hand-worked cases)."""

from __future__ import annotations

import pandas as pd
import pytest

from psyscreen.demographics import (normalise_class, normalise_demographics, normalise_grade, normalise_id,
                                    normalise_sex, normalise_text)


@pytest.mark.parametrize("text, grade", [
    ("一年级", 1), ("四年级", 4), ("六年级", 6), ("小学五年级", 5), ("初一", 7), ("初二", 8), ("初三", 9),
    ("初中二年级", 8), ("七年级", 7), ("九年级", 9), ("高一", 10), ("高二", 11), ("高三", 12), ("高中三年级", 12),
    ("十二年级", 12), ("大一", 13), ("大四", 16), ("大学二年级", 14), ("7", 7), ("07", 7), ("１１", 11),
    ("Grade 9", 9), ("G10", 10), ("10th", 10), (" 高二 ", 11), ("4年级", 4),
])
def test_grade_forms(text, grade):
    assert normalise_grade(pd.Series([text])).tolist() == [grade]


@pytest.mark.parametrize("text", ["2024级", "初四", "高四", "大五", "七年纪", "研一", "", "abc", "0", "17"])
def test_grade_not_guessed(text):
    assert normalise_grade(pd.Series([text])).isna().all()


def test_grade_dtype_and_index_kept():
    s = pd.Series(["初一", None, 9], index=[5, 6, 7])
    out = normalise_grade(s)
    assert str(out.dtype) == "Int64"
    assert out.index.tolist() == [5, 6, 7]
    assert out.tolist() == [7, pd.NA, 9]


@pytest.mark.parametrize("text, sex", [
    ("男", "M"), ("女", "F"), ("男性", "M"), ("女生", "F"), ("M", "M"), ("f", "F"), ("Female", "F"),
    ("male", "M"), ("1", "M"), ("2", "F"), ("Ｆ", "F"), (" 女 ", "F"),
])
def test_sex_forms(text, sex):
    assert normalise_sex(pd.Series([text])).tolist() == [sex]


@pytest.mark.parametrize("text", ["0", "9", "未知", "x", ""])
def test_sex_not_guessed(text):
    assert normalise_sex(pd.Series([text])).isna().all()


def test_class_and_school_text():
    assert normalise_class(pd.Series(["3", "03", "３班", "(3)班", "（3）班", "3 班", "实验班", " 高二(3)班 "])).tolist() == \
        ["3", "3", "3", "3", "3", "3", "实验班", "高二(3)班"]
    assert normalise_text(pd.Series(["  第一  高级中学 ", "\u3000实验中学", "   "])).tolist() == \
        ["第一 高级中学", "实验中学", pd.NA]


def test_student_id_keeps_leading_zeros_and_is_text():
    out = normalise_id(pd.Series(["000123", " ０４５ ", "12 34", None]))
    assert out.tolist() == ["000123", "045", "1234", pd.NA]
    assert pd.api.types.is_string_dtype(out.dtype)


def test_frame_normalised_and_other_columns_untouched():
    f = pd.DataFrame({"student_id": ["007"], "grade": ["高一"], "sex": ["M"], "class": ["２班"],
                      "school": [" 一中"], "phq9.1": [2.0]})
    out = normalise_demographics(f)
    assert out.loc[0, "student_id"] == "007"
    assert out.loc[0, "grade"] == 10
    assert out.loc[0, "sex"] == "M"
    assert out.loc[0, "class"] == "2"
    assert out.loc[0, "school"] == "一中"
    assert out.loc[0, "phq9.1"] == 2.0
    assert f.loc[0, "grade"] == "高一"  # input not modified
