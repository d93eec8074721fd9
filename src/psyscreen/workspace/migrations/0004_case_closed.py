"""A case's ``closed`` flag, kept from its events (Event.save), so that the lists filter open cases in SQL.

Cases that exist already get the flag from their events, by the same rule (:func:`psyscreen.followup.case_state`).
"""

from django.db import migrations, models

from psyscreen import followup


def closed_from_events(apps, schema_editor):
    Case = apps.get_model("workspace", "Case")
    Event = apps.get_model("workspace", "Event")
    by_case: dict = {}
    for e in Event.objects.order_by("recorded_at").iterator():
        by_case.setdefault(e.case_id, []).append(followup.Event(
            kind=e.kind, occurred_on=e.occurred_on, fields=dict(e.fields),
            corrects=str(e.corrects_id) if e.corrects_id else None, ident=str(e.id)))
    closed = [pk for pk, events in by_case.items() if followup.case_state(events).closed]
    for start in range(0, len(closed), 500):
        Case.objects.filter(pk__in=closed[start:start + 500]).update(closed=True)


class Migration(migrations.Migration):

    dependencies = [
        ("workspace", "0003_level_names"),
    ]

    operations = [
        migrations.AddField(
            model_name="case",
            name="closed",
            field=models.BooleanField(db_index=True, default=False),
        ),
        migrations.RunPython(closed_from_events, migrations.RunPython.noop),
    ]
