"""Record field rules, without a database: the core columns follow the properties by type,
a property left out never blanks a field, and a name or stage whose properties were all
cleared is empty."""

from __future__ import annotations

from typing import Any

import pytest

from leadsync.model import RecordType
from leadsync.rules.records import CoreFields, core_fields

KNOWN = CoreFields(email="old@x.test", domain="old.test", name="Old", stage="s0", is_closed=False)


@pytest.mark.parametrize(
    ("record_type", "properties", "expected"),
    [
        (RecordType.CONTACT, {"email": "kim@x.test", "firstname": "Kim", "lastname": "Li"},
         CoreFields("kim@x.test", "old.test", "Kim Li", "s0", False)),
        (RecordType.CONTACT, {"name": "K. Li", "email": ""},
         CoreFields("old@x.test", "old.test", "K. Li", "s0", False)),
        (RecordType.CONTACT, {"lastname": "Li"}, CoreFields("old@x.test", "old.test", "Li", "s0", False)),
        (RecordType.COMPANY, {"domain": "globex.test", "name": "Globex"},
         CoreFields("old@x.test", "globex.test", "Globex", "s0", False)),
        (RecordType.DEAL, {"dealname": "Big", "dealstage": "won", "is_closed": True},
         CoreFields("old@x.test", "old.test", "Big", "won", True)),
        (RecordType.DEAL, {"name": "Big", "stage": "s1"},
         CoreFields("old@x.test", "old.test", "Big", "s1", False)),
        (RecordType.TICKET, {"subject": "Broken", "status": "open", "is_closed": True},
         CoreFields("old@x.test", "old.test", "Broken", "open", False)),
        (RecordType.LEAD, {}, KNOWN),
        # Every property a field is made of cleared: the field is empty (the vendor cleared
        # it); an email is never blanked (it is how the record is found).
        (RecordType.CONTACT, {"firstname": None, "lastname": "", "email": None},
         CoreFields("old@x.test", "old.test", None, "s0", False)),
        (RecordType.CONTACT, {"firstname": None, "name": "Kim Li"},
         CoreFields("old@x.test", "old.test", "Kim Li", "s0", False)),
        (RecordType.DEAL, {"dealstage": None, "name": ""},
         CoreFields("old@x.test", "old.test", None, None, False)),
        (RecordType.DEAL, {"stage": None, "dealstage": "won"},
         CoreFields("old@x.test", "old.test", "Old", "won", False)),
        (RecordType.COMPANY, {"name": None, "domain": None},
         CoreFields("old@x.test", "old.test", None, "s0", False)),
    ],
)  # fmt: skip
def test_core_fields(
    record_type: RecordType, properties: dict[str, Any], expected: CoreFields
) -> None:
    assert core_fields(record_type, properties, KNOWN) == expected
