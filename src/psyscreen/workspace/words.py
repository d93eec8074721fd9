"""The workspace's words in Chinese and English: key -> (zh, en). Templates use ``{{ w.key }}``.

Besides the page words, :func:`status_words`, :func:`level_words` and :func:`event_details` put the codes of
:mod:`psyscreen.followup` into words of the page language.

Examples
--------
>>> status_words("interviewed", "en"), level_words("none", "zh")
('interviewed', '无风险')
"""

from __future__ import annotations

from .. import followup

__all__ = ["WORDS", "words_for", "status_words", "level_words", "event_details", "problem_words", "kind_help"]

WORDS = {
    "title": ("心理健康筛查随访工作台", "Screening follow-up workspace"),
    "login": ("登录", "Log in"),
    "logout": ("退出", "Log out"),
    "username": ("用户名", "Username"),
    "password": ("密码", "Password"),
    "password2": ("再次输入密码", "Password again"),
    "login_failed": ("用户名或密码不正确。", "Wrong username or password."),
    "locked": ("登录失败次数过多，请15分钟后再试。", "Too many failed logins; try again in 15 minutes."),
    "critical": ("危急名单", "Critical list"),
    "critical_intro": ("危急个案与一级预警，逾期的排在最前。", "Critical answers and level-1 cases, the overdue first."),
    "cases": ("待处理个案", "Open cases"),
    "cases_intro": ("未结案的个案，按期限排列。", "Cases not yet closed, by deadline."),
    "dashboard": ("全县统计", "County dashboard"),
    "audit": ("访问日志", "Audit log"),
    "accounts": ("账号管理", "Accounts"),
    "case": ("个案", "Case"),
    "student": ("学生", "Student"),
    "school": ("学校", "School"),
    "grade": ("年级", "Grade"),
    "class": ("班级", "Class"),
    "wave": ("批次", "Wave"),
    "all_waves": ("全部批次", "All waves"),
    "show": ("显示", "Show"),
    "level": ("预警等级", "Level"),
    "reasons": ("原因", "Reasons"),
    "action": ("建议措施", "Suggested action"),
    "deadline": ("期限", "Deadline"),
    "status": ("状态", "Status"),
    "overdue": ("已逾期", "Overdue"),
    "days_overdue": ("逾期天数", "Days overdue"),
    "critical_mark": ("危急", "critical"),
    "events": ("随访记录", "Follow-up events"),
    "add_event": ("添加记录", "Add an event"),
    "save": ("保存", "Save"),
    "kind": ("类型", "Kind"),
    "date": ("日期", "Date"),
    "details": ("内容", "Details"),
    "recorded_by": ("记录人", "Recorded by"),
    "recorded_at": ("记录时间", "Recorded at"),
    "source": ("来源", "Source"),
    "correct": ("更正", "Correct"),
    "corrected": ("已更正", "corrected"),
    "corrects": ("更正了", "corrects"),
    "correcting": ("正在更正以下记录（原记录保留，显示为划除）：",
                   "Correcting this event (the event stays in the record, struck through):"),
    "cancel": ("取消", "Cancel"),
    "required_fields": ("各类型需填写的项目（* 为必填）", "What each kind needs (* required)"),
    "form_errors": ("记录未保存，请按提示修改：", "The event was not saved; please correct:"),
    "event_saved": ("已保存。", "Saved."),
    "none": ("无", "none"),
    "choose": ("（请选择）", "(choose)"),
    "growth_file": ("成长档案：历次筛查", "Growth file: every wave"),
    "case_history": ("历次个案", "Every case of this student"),
    "flagged_again": ("再次预警：上次", "Flagged again: last time"),
    "not_visible": ("（其他学校或班级的个案）", "(a case of another school or class)"),
    "this_case": ("本个案", "this case"),
    "scores": ("分数", "Scores"),
    "scale": ("量表", "Scale"),
    "value": ("分值", "Value"),
    "find": ("查找学生", "Find a student"),
    "find_key": ("学号", "Student key"),
    "find_pseudonym": ("化名编号", "Pseudonym"),
    "find_none": ("没有找到您可查看的该学生个案。", "No case of that student that you may see."),
    "flagged": ("预警人数", "Flagged"),
    "reviewed": ("已复核", "Reviewed"),
    "interviewed_on_time": ("按期约谈", "Interviewed within the deadline"),
    "referred": ("已转介", "Referred"),
    "closed": ("已结案", "Closed"),
    "total": ("合计", "Total"),
    "suppressed_note": ("小于5的人数以 * 显示（以及可据合计推算出它们的格）。",
                        "Counts below 5 are shown as * (and so are cells from which they could be worked out)."),
    "export": ("导出 Excel", "Export to Excel"),
    "plot_alt": ("各校预警、按期约谈、结案与逾期人数", "Per school: flagged, interviewed on time, closed, overdue"),
    "at": ("时间", "When"),
    "user": ("用户", "User"),
    "what": ("操作", "What"),
    "page": ("页", "Page"),
    "previous_page": ("上一页", "Previous"),
    "next_page": ("下一页", "Next"),
    "role": ("角色", "Role"),
    "lang": ("语言", "Language"),
    "make_account": ("新建账号", "Make an account"),
    "account_made": ("账号已建立。", "The account was made."),
    "username_taken": ("该用户名已存在。", "That username exists already."),
    "passwords_differ": ("两次输入的密码不一致。", "The two passwords differ."),
    "needs_school": ("学校心理教师和班主任账号需填写学校。", "A school or class account needs a school."),
    "needs_class": ("班主任账号需填写年级和班级。", "A class account needs a grade and a class."),
    "not_found": ("页面不存在，或您无权查看。", "No such page, or you may not see it."),
    "forbidden": ("您无权执行此操作。", "You may not do this."),
    "bad_request": ("请求无效。", "Bad request."),
    "server_error": ("服务器出错，已记录。请稍后再试。", "Server error; it has been logged. Try again later."),
    "csrf": ("表单已过期，请返回刷新后重新提交。", "The form has expired; go back, reload and submit again."),
}

_STATUS = {
    "open": ("待处理", "open"),
    "reviewed": ("已复核", "reviewed"),
    "interviewed": ("已约谈", "interviewed"),
    "family_contacted": ("已家校沟通", "family contacted"),
    "plan": ("有支持计划", "support plan"),
    "referred": ("已转介", "referred"),
    "suspended": ("休学", "suspended"),
    "return_assessed": ("已复学评估", "return assessed"),
    "closed": ("已结案", "closed"),
    "reopened": ("已重新开启", "reopened"),
}

_LEVELS = {"1": ("一级", "level 1"), "2": ("二级", "level 2"), "3": ("三级", "level 3"), "none": ("无风险", "none")}

_ROLES = {"county": ("县级中心", "county centre"), "school": ("学校心理教师", "school psychological teacher"),
          "class": ("班主任", "class teacher"), "leader": ("领导（只读汇总）", "leader (aggregates only)")}

_AUDIT = {"view_case": ("查看个案", "viewed a case"), "view_scores": ("查看分数", "viewed scores"),
          "add_event": ("添加记录", "added an event"), "correct_event": ("更正记录", "corrected an event"),
          "export": ("导出", "exported"), "find": ("查找学生", "looked up a student"),
          "make_account": ("新建账号", "made an account")}


def _pick(pair, lang: str) -> str:
    return pair[0] if lang == "zh" else pair[1]


def words_for(lang: str) -> dict:
    """Every page word in ``lang`` (``zh`` or ``en``)."""
    return {k: _pick(v, lang) for k, v in WORDS.items()}


def status_words(status: str, lang: str) -> str:
    """The words of a case status code (:attr:`psyscreen.followup.CaseState.status`)."""
    return _pick(_STATUS[status], lang) if status in _STATUS else status


def level_words(level: str, lang: str) -> str:
    """The words of a reassessed level (``1``, ``2``, ``3``, ``none``)."""
    return _pick(_LEVELS[level], lang) if level in _LEVELS else level


def role_words(r: str, lang: str) -> str:
    return _pick(_ROLES[r], lang) if r in _ROLES else r


def audit_words(action: str, lang: str) -> str:
    return _pick(_AUDIT[action], lang) if action in _AUDIT else action


def event_details(kind: str, fields: dict, lang: str) -> str:
    """An event's fields (not its date) in words, as :func:`psyscreen.followup.describe` puts them.

    Examples
    --------
    >>> event_details("referred", {"by": "王老师", "to": "县医院", "outcome": "seen"}, "en")
    'by whom 王老师; referred to 县医院; outcome seen by the service'
    """
    spec = followup.EVENT_KINDS.get(kind)
    if spec is None:
        return ""
    parts = []
    for f in spec.fields:
        if f.name == "date" or f.name not in fields:
            continue
        v = fields[f.name]
        if f.kind == "choice":
            try:
                v = followup.label(v, lang, group=f.choices[0])
            except KeyError:
                pass
        elif f.kind == "level":
            v = level_words(str(v), lang)
        parts.append(f"{f.zh if lang == 'zh' else f.en} {v}")
    return "; ".join(parts)


# the problems of psyscreen.followup.validate_event (shared with the Excel import, in English with the Chinese
# field words) in Chinese: pattern -> template
_PROBLEMS_ZH = (
    (r"missing; fill in (.+?) \((.+)\)", "未填写；请填写{0}"),
    (r"a date in the future; .*", "日期晚于今天；请在事情发生后记录"),
    (r"not a date.*", "不是日期；请写成 2026-09-03"),
    (r"no such day.*", "没有这一天；请写成 2026-09-03"),
    (r"not a field of .*", "所选类型没有此项；请清空或换一种类型"),
    (r"unknown level.*", "等级不对；请选 1、2、3 或 无"),
    (r"unknown event; write one of: (.+)", "类型不对；请选：{0}"),
    (r"unknown .+?; write one of: (.+)", "选项不对；请选：{0}"),
    (r"longer than 2,000 characters.*", "超过2000字；请缩短"),
)


# the same in English only (the import's messages name the Chinese words of the fill-in sheet too)
_PROBLEMS_EN = (
    (r"missing; fill in (.+?) \((.+)\)", "missing; fill in {1}"),
    (r"unknown level; .*", "unknown level; choose 1, 2, 3 or none"),
    (r"unknown (.+?); write one of: .+", "unknown {0}; choose one from the list"),
)


def problem_words(problem: str, lang: str) -> str:
    """A problem found by :func:`psyscreen.followup.validate_event`, in the page language.

    Examples
    --------
    >>> problem_words("missing; fill in 负责人 (by whom)", "zh"), problem_words("missing; fill in 负责人 (by whom)", "en")
    ('未填写；请填写负责人', 'missing; fill in by whom')
    """
    import re

    for pattern, template in _PROBLEMS_ZH if lang == "zh" else _PROBLEMS_EN:
        m = re.fullmatch(pattern, problem)
        if m:
            return template.format(*m.groups())
    return problem


def kind_help(lang: str) -> list[tuple[str, str]]:
    """(kind words, its fields' words with ``*`` after the required ones) for every event kind."""
    out = []
    for k in followup.EVENT_KINDS.values():
        fields = "、".join((f.zh if lang == "zh" else f.en) + ("*" if f.required else "") for f in k.fields)
        out.append((k.zh if lang == "zh" else k.en, fields if lang == "zh" else fields.replace("、", ", ")))
    return out
