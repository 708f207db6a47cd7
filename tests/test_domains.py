"""Free-mail and disposable domains never make companies: the policy (rules/domains.py), the
``free_mail:`` settings with their errors and export, and the push, which never looks a
company up in HubSpot by such a domain."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from leadsync.destinations.hubspot.fake import HubSpotDouble
from leadsync.errors import ConfigError
from leadsync.rules.domains import DISPOSABLE_DOMAINS, FREE_DOMAINS, DomainPolicy
from leadsync.rules.mapping import OwnerDirectory
from leadsync.rules.workspace import WorkspaceRules
from leadsync.settings import (
    FreeMailSettings,
    WorkspaceConfig,
    config_from_dict,
    config_to_dict,
    dump_config,
    load_config,
)
from leadsync.workspace import Workspace
from tests.helpers import HUBSPOT_TOKEN, OWNERS, ev, run, settings

# ------------------------------------------------------------------------- the policy

POLICY = DomainPolicy(add=frozenset({"Contractors.TEST"}), allow=frozenset({"fastmail.com"}))

# (domain as given, the reason, or None for a company's domain)
CASES: list[tuple[str, str | None]] = [
    ("gmail.com", "gmail.com is a free email provider"),
    ("outlook.com", "outlook.com is a free email provider"),
    ("  GMAIL.com ", "gmail.com is a free email provider"),
    ("https://www.Hotmail.com/inbox", "hotmail.com is a free email provider"),
    ("mailinator.com", "mailinator.com is a disposable email provider"),
    ("contractors.test", "contractors.test is listed in free_mail.add"),
    (" www.CONTRACTORS.test", "contractors.test is listed in free_mail.add"),
    ("fastmail.com", None),  # free mail, but allowed: a company uses it
    ("globex.test", None),
    ("mail.gmail.com", None),  # exact: a subdomain is listed only if it is itself
    ("", None),
]


@pytest.mark.parametrize(("domain", "reason"), CASES)
def test_the_policy_says_why_a_domain_is_personal(domain: str, reason: str | None) -> None:
    assert POLICY.personal(domain) == reason


def test_the_default_policy_has_the_packages_lists_alone() -> None:
    default = DomainPolicy.default()
    assert default.personal("gmail.com") == "gmail.com is a free email provider"
    assert default.personal("fastmail.com") == "fastmail.com is a free email provider"
    assert default.personal("contractors.test") is None
    assert default is DomainPolicy.default()  # built once
    assert DomainPolicy.from_settings(FreeMailSettings()) is default


def test_the_packages_lists_are_read_normalised() -> None:
    assert {"gmail.com", "outlook.com", "yahoo.co.uk"} <= FREE_DOMAINS
    assert "mailinator.com" in DISPOSABLE_DOMAINS
    assert "e4ward.com" in DISPOSABLE_DOMAINS  # listed as www.e4ward.com


def test_rules_without_configuration_use_the_default_policy() -> None:
    rules = WorkspaceRules(directory=OwnerDirectory.build({}, {}), integrations={})
    assert rules.domains is DomainPolicy.default()


# ------------------------------------------------------------------------- settings


def problems(text: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_config(text, "ws.yaml")
    return caught.value.problems


def test_free_mail_entries_are_normalised_and_round_trip() -> None:
    config = load_config(
        "free_mail:\n  add: [' WWW.Contractors.TEST', https://agency.test/]\n"
        "  allow: [FastMail.com]\n",
        "ws.yaml",
    )
    assert config.free_mail == FreeMailSettings(
        add=("contractors.test", "agency.test"), allow=("fastmail.com",)
    )
    assert config_to_dict(config) == {
        "free_mail": {"add": ["contractors.test", "agency.test"], "allow": ["fastmail.com"]}
    }
    text = dump_config(config)
    assert load_config(text, "dumped.yaml") == config
    assert config_from_dict(config_to_dict(config)) == config


def test_free_mail_is_left_out_of_the_export_when_empty() -> None:
    for text in ("owners: []\n", "free_mail:\n", "free_mail: {add: [], allow:}\n"):
        config = load_config(text, "ws.yaml")
        assert config.free_mail == FreeMailSettings()
        assert "free_mail" not in config_to_dict(config)
    only_add = load_config("free_mail: {add: [x.test]}\n", "ws.yaml")
    assert config_to_dict(only_add) == {"free_mail": {"add": ["x.test"]}}


def test_a_free_mail_entry_that_is_not_a_domain_is_refused_at_its_key_path() -> None:
    found = problems(
        "free_mail:\n  add: [a.test, b.test, n/a]\n  allow: [ok.test, 'x y.test', 7]\n"
    )
    assert found == [
        "ws.yaml:2: free_mail.add[2]: 'n/a' is not a domain; allowed: a domain name with a "
        "dot, no '@' and no spaces (e.g. acme.com)",
        "ws.yaml:3: free_mail.allow[1]: 'x y.test' is not a domain; allowed: a domain name "
        "with a dot, no '@' and no spaces (e.g. acme.com)",
        "ws.yaml:3: free_mail.allow[2]: expected a string; got 7",
    ]


def test_a_domain_both_added_and_allowed_is_refused_naming_both_places() -> None:
    found = problems("free_mail:\n  add: [a.test, Gmail.com]\n  allow: [x.test, gmail.com]\n")
    assert found == [
        "ws.yaml:3: free_mail.allow[1]: gmail.com is also in free_mail.add[1]; a domain is "
        "either added (personal) or allowed (a company's), not both"
    ]


def test_unknown_keys_of_free_mail_are_refused() -> None:
    (problem,) = problems("free_mail:\n  block: [a.test]\n")
    assert problem.startswith("ws.yaml:2: free_mail.block: ")


# ----------------------------------------------------------------- the workspace and push


def config(free_mail: dict[str, Any] | None = None) -> WorkspaceConfig:
    doc: dict[str, Any] = {
        "owners": copy.deepcopy(OWNERS),
        "teams": {"sdr": ["101", "102"]},
        "integrations": {"dialer": settings(), "crm": {"kind": "hubspot"}},
        "destination": {"kind": "hubspot", "token_env": "HS_TEST_TOKEN"},
    }
    if free_mail is not None:
        doc["free_mail"] = free_mail
    return load_config(json.dumps(doc), "test.yaml")


class Recorder:
    """The stand-in's transport, keeping the body of every search sent to it."""

    def __init__(self, hub: HubSpotDouble) -> None:
        self.hub = hub
        self.searches: list[dict[str, Any]] = []

    def transport(self) -> httpx.MockTransport:
        inner = self.hub.transport()

        def answer(request: httpx.Request) -> httpx.Response:
            if request.method == "POST" and request.url.path.endswith("/search"):
                self.searches.append(json.loads(request.read()))
            return inner.handle_request(request)

        return httpx.MockTransport(answer)

    def searched_domains(self) -> list[str]:
        return sorted(
            value
            for body in self.searches
            for group in body["filterGroups"]
            for f in group["filters"]
            if f["propertyName"] == "domain"
            for value in f["values"]
        )


@pytest.fixture
def recorder(hub: HubSpotDouble) -> Recorder:
    return Recorder(hub)


@pytest.fixture
def ws(db_url: str, recorder: Recorder, monkeypatch: pytest.MonkeyPatch) -> Iterator[Workspace]:
    monkeypatch.setenv("HS_TEST_TOKEN", HUBSPOT_TOKEN)
    workspace = Workspace(db_url, hubspot_transport=recorder.transport())
    workspace.apply_config(config())
    workspace.hubspot_setup()
    yield workspace
    workspace.close()


def test_free_mail_is_stored_exported_and_read_by_the_rules(ws: Workspace) -> None:
    assert ws.rules().domains == DomainPolicy.default()
    wanted = config({"add": ["contractors.test"], "allow": ["fastmail.com"]})
    changes = ws.apply_config(wanted)
    assert "free_mail" in changes.settings_changed
    assert ws.export_config() == wanted
    assert config_to_dict(ws.export_config())["free_mail"] == {
        "add": ["contractors.test"],
        "allow": ["fastmail.com"],
    }
    domains = ws.rules().domains
    assert domains.personal("contractors.test") == "contractors.test is listed in free_mail.add"
    assert domains.personal("fastmail.com") is None
    assert ws.apply_config(wanted).settings_changed == []  # idempotent
    ws.apply_config(config())  # dropped from the file: gone
    assert ws.export_config().free_mail == FreeMailSettings()
    assert "free_mail" not in config_to_dict(ws.export_config())
    assert ws.rules().domains == DomainPolicy.default()


def companies() -> list[dict[str, Any]]:
    return [
        ev(
            "record",
            object="company",
            external_id=f"co-{domain}",
            properties={"domain": domain, "name": f"Company at {domain}"},
        )
        for domain in ("globex.test", "gmail.com")
    ]


def test_the_push_never_searches_hubspot_by_a_free_mail_domain(
    ws: Workspace, hub: HubSpotDouble, recorder: Recorder
) -> None:
    """HubSpot has a company at globex.test and one at gmail.com. Ours at globex.test is
    matched by a search; ours at gmail.com is not searched for, and is created."""
    globex = hub.add_object("companies", {"domain": "globex.test", "name": "Globex"})
    gmail = hub.add_object("companies", {"domain": "gmail.com", "name": "Someone's"})
    run(ws, *companies())
    result = ws.push()
    assert result.failures == 0
    assert recorder.searched_domains() == ["globex.test"]
    assert result.matched.get("company") == 1
    assert result.created.get("company") == 1
    by_domain: dict[str, list[str]] = {}
    for company in hub.objects("companies"):
        by_domain.setdefault(company["properties"]["domain"], []).append(company["id"])
    assert by_domain["globex.test"] == [globex]
    assert len(by_domain["gmail.com"]) == 2 and by_domain["gmail.com"][0] == gmail
    assert hub.objects("companies")[-1]["properties"]["leadsync_id"]  # ours, created


def test_an_allowed_free_mail_domain_is_matched_like_any_company_domain(
    ws: Workspace, hub: HubSpotDouble, recorder: Recorder
) -> None:
    ws.apply_config(config({"allow": ["gmail.com"]}))
    gmail = hub.add_object("companies", {"domain": "gmail.com", "name": "Google's mail team"})
    hub.add_object("companies", {"domain": "globex.test", "name": "Globex"})
    run(ws, *companies())
    result = ws.push()
    assert result.failures == 0
    assert recorder.searched_domains() == ["globex.test", "gmail.com"]
    assert result.matched.get("company") == 2
    assert len(hub.objects("companies")) == 2  # none created
    assert ws.find(external=f"crm:{gmail}")  # ours is HubSpot's gmail.com company
