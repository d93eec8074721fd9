from django.apps import AppConfig


class WorkspaceConfig(AppConfig):
    name = "psyscreen.workspace"
    label = "workspace"
    verbose_name = "psyscreen follow-up workspace"
    default_auto_field = "django.db.models.BigAutoField"
