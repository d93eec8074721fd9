"""Every URL of the workspace. No URL carries a student key, a name or an answer: cases are opaque UUIDs."""

from django.urls import path

from .views import admin, auth, cases, county

urlpatterns = [
    path("login/", auth.login_view, name="login"),
    path("logout/", auth.logout_view, name="logout"),
    path("lang/<str:code>/", auth.set_language, name="lang"),
    path("", auth.home, name="home"),
    path("critical/", cases.critical_list, name="critical"),
    path("cases/", cases.open_cases, name="cases"),
    path("case/<uuid:case_id>/", cases.case_page, name="case"),
    path("case/<uuid:case_id>/scores/", cases.scores_page, name="scores"),
    path("case/<uuid:case_id>/event/", cases.add_event, name="add_event"),
    path("find/", cases.find_student, name="find"),
    path("dashboard/", county.dashboard, name="dashboard"),
    path("export/<str:table>.xlsx", county.export, name="export"),
    path("audit/", admin.audit_log, name="audit"),
    path("accounts/", admin.accounts, name="accounts"),
]

handler404 = "psyscreen.workspace.views.auth.not_found"
handler403 = "psyscreen.workspace.views.auth.forbidden"
handler400 = "psyscreen.workspace.views.auth.bad_request"
handler500 = "psyscreen.workspace.views.auth.server_error"
