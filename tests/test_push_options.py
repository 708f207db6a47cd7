"""A dropdown property takes only its options' internal values (HubSpot refuses the whole
create or update otherwise, ``INVALID_OPTION``): the tools write a company's industry as free
text. ``hubspot setup`` reads the options of the properties the push writes; the push sends
the option a value names (by value or label, case, spacing and "&" aside) and leaves out one
that names none — the record pushed without it, the value reported as a push failure of
leadsync's own that stays open while the record holds it, dismissable and retried once the
option exists. Through the stand-in (every request checked against openapi.yaml), on SQLite
and PostgreSQL."""

from __future__ import annotations

import contextlib
import io
from typing import Any

import pytest
from typer.testing import CliRunner

from leadsync.cli import app
from leadsync.cli.hubspot import _print_push
from leadsync.destinations.hubspot.fake import HubSpotDouble
from leadsync.destinations.hubspot.options import fit_options, option_key, option_value
from leadsync.workspace import Workspace
from tests.helpers import ev, record_by_external, run
from tests.test_hubspot_push import only
from tests.test_push_clears import ws

__all__ = ["ws"]  # the fixture: a workspace pushing to the stand-in, set up

INDUSTRY = [
    ["COMPUTER_SOFTWARE", "Computer Software"],
    ["INFORMATION_TECHNOLOGY_AND_SERVICES", "Information Technology and Services"],
    ["APPAREL_FASHION", "Apparel & Fashion"],
]


@pytest.mark.parametrize(
    ("given", "sent"),
    [
        ("COMPUTER_SOFTWARE", "COMPUTER_SOFTWARE"),
        ("Computer Software", "COMPUTER_SOFTWARE"),
        ("  computer   software ", "COMPUTER_SOFTWARE"),
        ("computer_software", "COMPUTER_SOFTWARE"),
        ("Information Technology & Services", "INFORMATION_TECHNOLOGY_AND_SERVICES"),
        ("Apparel and Fashion", "APPAREL_FASHION"),
        ("Apparel & Fashion", "APPAREL_FASHION"),
        ("Software", None),
        ("", None),
        ("&", None),
    ],
)
def test_a_value_names_an_option_by_its_value_or_label(given: str, sent: str | None) -> None:
    assert option_value(given, INDUSTRY) == sent


def test_keys_ignore_case_punctuation_and_width() -> None:
    assert option_key("Ｃomputer-Software") == option_key("COMPUTER_SOFTWARE") == "computersoftware"


def test_fit_options_keeps_the_record_and_lists_what_no_option_names() -> None:
    record = {"type": "company", "properties": {"industry": "Fintech", "city": "Oslo"}}
    fitted = fit_options(record, {"industry": INDUSTRY, "city": []})
    assert fitted["not_options"] == {"industry": "Fintech"}
    assert fitted["properties"] == record["properties"]
    assert "not_options" not in record
    good = fit_options(
        {"type": "company", "properties": {"industry": "computer software"}}, {"industry": INDUSTRY}
    )
    assert good["properties"]["industry"] == "COMPUTER_SOFTWARE" and "not_options" not in good


def company(at: str, **props: Any) -> Any:
    return ev(
        "record",
        at,
        object="company",
        external_id="co-1",
        properties={"domain": "globex.test", "name": "Globex", **props},
    )


def test_setup_keeps_the_portal_dropdowns_the_push_writes(ws: Workspace) -> None:
    report = ws.hubspot_setup()
    industry = report.options["company"]["industry"]
    assert ["COMPUTER_SOFTWARE", "Computer Software"] in industry
    assert "city" not in report.options["company"]  # a text property, any value


def test_a_label_is_sent_as_its_option_value(ws: Workspace, hub: HubSpotDouble) -> None:
    run(ws, company("2026-11-01T09:00:00Z", industry="Information Technology & Services"))
    result = ws.push()
    assert result.failures == 0
    assert only(hub, "companies")["properties"]["industry"] == "INFORMATION_TECHNOLOGY_AND_SERVICES"
    assert ws.push_failures() == []


def test_a_value_no_option_names_is_left_out_reported_once_and_sent_once_the_option_exists(
    ws: Workspace, hub: HubSpotDouble
) -> None:
    run(ws, company("2026-11-01T09:00:00Z", industry="Fintech", city="Oslo"))
    result = ws.push()
    assert result.failures == 0
    created = only(hub, "companies")["properties"]
    assert created["name"] == "Globex" and created["city"] == "Oslo"
    assert not created.get("industry")
    [failure] = ws.push_failures()
    assert failure["category"] == "LEADSYNC_NOT_AN_OPTION"
    assert failure["refused_by"] == "leadsync" and failure["status"] is None
    assert "'Fintech'" in failure["message"] and "industry" in failure["message"]
    assert "none of the 35 options of HubSpot's company industry" in failure["message"]
    assert ws.push_status()["failures_not_sent"] == 1
    record_id = record_by_external(ws, "co-1")["id"]
    assert ws.record_hubspot(record_id).state.startswith(
        "pushed, but for a value HubSpot would not take"
    )
    url = ws.engine.url.render_as_string(hide_password=False)
    shown = CliRunner().invoke(app, ["--db", url, "records", "show", "company", str(record_id)])
    assert shown.exit_code == 0, shown.output
    assert f"pushed without a value: {failure['message']}" in shown.stdout

    # Another change of the company is pushed; the same value is not reported again.
    run(ws, company("2026-11-01T10:00:00Z", industry="Fintech", city="Bergen"))
    assert ws.push().failures == 0
    assert only(hub, "companies")["properties"]["city"] == "Bergen"
    assert [f["id"] for f in ws.push_failures()] == [failure["id"]]

    # HubSpot's admin adds the option; setup reads it; the retry sends it.
    hub.add_option("companies", "industry", "FINTECH", "Fintech")
    ws.hubspot_setup()
    assert ws.resolve_push_failures([failure["id"]], "retry") == 1
    assert ws.push().failures == 0
    assert only(hub, "companies")["properties"]["industry"] == "FINTECH"
    assert ws.push_failures() == []
    assert ws.record_hubspot(record_id).state == "pushed"


def test_a_value_no_option_names_leaves_hubspots_value_and_a_fixed_one_closes_the_report(
    ws: Workspace, hub: HubSpotDouble
) -> None:
    """The company had an option HubSpot took; the tool's new value names none: HubSpot keeps
    the old one (neither overwritten nor cleared) and the report says why; once the tool
    gives a value HubSpot takes, it is sent and the report closes as pushed."""
    run(ws, company("2026-11-01T09:00:00Z", industry="Computer Software"))
    assert ws.push().failures == 0
    run(ws, company("2026-11-01T10:00:00Z", industry="Crypto", city="Oslo"))
    assert ws.push().failures == 0
    props = only(hub, "companies")["properties"]
    assert props["industry"] == "COMPUTER_SOFTWARE" and props["city"] == "Oslo"
    [failure] = ws.push_failures()
    assert "'Crypto'" in failure["message"] and "spelled like" not in failure["message"]
    run(ws, company("2026-11-01T11:00:00Z", industry="internet"))
    hub.add_option("companies", "industry", "INTERNET", "Internet")
    ws.hubspot_setup()
    assert ws.push().failures == 0
    assert only(hub, "companies")["properties"]["industry"] == "INTERNET"
    assert ws.push_failures() == []


def test_a_dismissed_report_is_not_raised_again_for_the_same_value(
    ws: Workspace, hub: HubSpotDouble
) -> None:
    run(ws, company("2026-11-01T09:00:00Z", industry="Fintech"))
    ws.push()
    [failure] = ws.push_failures()
    assert ws.resolve_push_failures([failure["id"]], "dismiss", "we do not track it") == 1
    run(ws, company("2026-11-01T10:00:00Z", industry="Fintech", city="Oslo"))
    assert ws.push().failures == 0
    assert ws.push_failures() == []
    run(ws, company("2026-11-01T11:00:00Z", industry="Crypto"))
    ws.push()
    [again] = ws.push_failures()
    assert "'Crypto'" in again["message"]


def test_the_report_names_the_options_spelled_like_the_value() -> None:
    from leadsync.destinations.hubspot.options import not_an_option_message

    message = not_an_option_message("company", "industry", "Software", INDUSTRY)
    assert "none of the 3 options of HubSpot's company industry" in message
    assert "spelled like it: Computer Software" in message


def test_a_new_value_no_option_names_is_reported_and_stays_open(
    ws: Workspace, hub: HubSpotDouble
) -> None:
    """The tool changes one value no option names for another: the first report closes, the
    second stays open (it was closed by the save that raised it), and `push` says it did
    not send a value."""
    run(ws, company("2026-11-01T09:00:00Z", industry="Software"))
    first = ws.push()
    assert first.not_sent == 1
    run(ws, company("2026-11-01T10:00:00Z", industry="Fintech"))
    assert ws.push().not_sent == 1
    [open_one] = ws.push_failures()
    assert "'Fintech'" in open_one["message"]
    assert ws.push_status()["failures"] == 1
    record_id = record_by_external(ws, "co-1")["id"]
    assert ws.record_hubspot(record_id).state.startswith(
        "pushed, but for a value HubSpot would not take"
    )


def test_a_value_not_sent_beside_a_refusal_leaves_both_counted(
    ws: Workspace, hub: HubSpotDouble
) -> None:
    """A company's industry no option names (not sent) and a contact whose owner HubSpot
    refuses (the portal has no such owner), in one push: one of each, and the text says
    both. HubSpot's refusals were counted as the failures less those not sent, which a
    value left out is not one of: "refused by HubSpot" went missing."""
    run(ws, company("2026-11-01T09:00:00Z", industry="Software"))
    contact = ev(
        "record",
        "2026-11-01T09:00:00Z",
        object="contact",
        external_id="p-9",
        properties={"email": "art@vandelay.test", "firstname": "Art"},
    )
    run(ws, contact)
    hub.remove_owner("104")
    ws.set_owner("contact", record_by_external(ws, "p-9")["id"], "104")
    result = ws.push()
    assert (result.not_sent, result.refused, result.failures) == (1, 1, 1)
    shown = io.StringIO()
    with contextlib.redirect_stdout(shown):
        _print_push(result.to_dict())
    assert "not sent: 1 " in shown.getvalue() and "refused by HubSpot: 1 " in shown.getvalue()


def test_a_report_is_known_by_its_value_whatever_the_options_became(
    ws: Workspace, hub: HubSpotDouble
) -> None:
    """An option added for something else changes the report's text (the options' count):
    the open report stays the one report, and a dismissal still stands for the value."""
    run(ws, company("2026-11-01T09:00:00Z", industry="Software"))
    ws.push()
    [failure] = ws.push_failures()
    hub.add_option("companies", "industry", "VETERINARY", "Veterinary")
    ws.hubspot_setup()
    run(ws, company("2026-11-01T10:00:00Z", industry="Software", city="Oslo"))
    assert ws.push().not_sent == 0
    assert [f["id"] for f in ws.push_failures()] == [failure["id"]]
    assert ws.resolve_push_failures([failure["id"]], "dismiss", "not ours to fix") == 1
    hub.add_option("companies", "industry", "ZOOS", "Zoos")
    ws.hubspot_setup()
    run(ws, company("2026-11-01T11:00:00Z", industry="Software", city="Bergen"))
    assert ws.push().not_sent == 0
    assert ws.push_failures() == []
