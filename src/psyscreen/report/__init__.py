"""The outputs of a screening wave, routed to the four-level warning network with the least each level needs.

- :func:`write_critical`: ``critical.xlsx``, the students with a critical answer, written first.
- :func:`write_school`: a school's workbook for the psychological teacher (everything, reasons in words), one
  list per class for the class teacher (student, level, suggested action: no scores, answers or reasons) and a
  notification letter per flagged student for the family (jinja2, editable template, autoescaped), also as one
  print file per class.
- :func:`load_contacts`: the per-school contacts file (psychological teacher, phone) for the letters.
- :func:`write_county`: ``summary.xlsx`` and a self-contained ``report.html`` with counts and rates by school x
  grade x sex x level and participation, small counts suppressed (:func:`psyscreen.privacy.suppress_tables`), no
  identities.

Text cells are made inert (:func:`psyscreen.privacy.safe_frame`) and every file is written atomically.
"""

from .contacts import ContactsError, load_contacts
from .critical import write_critical
from .county import write_county
from .letters import render_letter
from .school import write_school

__all__ = ["write_critical", "write_school", "write_county", "render_letter", "load_contacts", "ContactsError"]
