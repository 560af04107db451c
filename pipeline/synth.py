"""A seeded synthetic world: enterprises, filings, negative lists, transfer logs, probe flows.

`synthesize` is pure: the only source of randomness is `random.Random(seed)` and no clock is
read, so the same arguments give byte-identical files from `write_world`. The world is the data
source of tests, the demo and benchmarks, and it carries its own answer key (`truth`).

How the world stays explainable. Every enterprise gets a plan: a few transfer *streams*
(recipient, country, categories, purpose, heavy-tailed volumes, a diurnal rhythm in Beijing
time). Once its transfers are drawn, the generator bounds the enterprise's yearly counts from
above (every transfer not exempt by steps 1-2 of the decision procedure) and decides, per
stream, the strongest path the procedure can ever require; it then issues filings that cover
exactly those streams with a generous quota, and the transfers declare the covering filing.
Nothing in that clean part can raise a finding above `low`. Violations are injected one per
*violator* enterprise, each by perturbing that enterprise alone (an extra transfer, a filing
that expired or was revoked, a tight quota, an extra probe flow ...), and the generator
records in `truth` exactly what the rule engine must find, computed from the contract's
procedure (spec/contracts.md) and the parameters of `pipeline.config`.
"""

from __future__ import annotations

import ipaddress
import math
import random
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta, timezone
from functools import lru_cache
from pathlib import Path
from typing import Literal, get_args
from zoneinfo import ZoneInfo

import orjson
from pydantic import BaseModel, ConfigDict
from stdnum.cn import uscc

from pipeline.config import RulesConfig, default_rules_config
from pipeline.rules.categories import (
    carries_important,
    carries_personal,
    is_non_personal,
    matches,
    matches_any,
)
from pipeline.rules.filings import (
    SCOPE_RULES,
    is_valid,
    revoked_by,
    scope_failures,
    validity_end,
)
from pipeline.rules.years import add_calendar_years, window_start
from schemas.models import EgressFlow, Enterprise, Filing, NegativeListEntry, TransferLog
from schemas.types import Country, RuleId, Severity, Uscc, UtcDatetime

__all__ = [
    "DEFAULT_START",
    "RULE_IDS",
    "WINDOW_RULES",
    "TruthRecord",
    "World",
    "synthesize",
    "write_world",
]

#: A Monday, midnight in Beijing: the default first instant of the synthetic world.
DEFAULT_START = datetime(2025, 3, 3, tzinfo=timezone(timedelta(hours=8)))
RULE_IDS: tuple[RuleId, ...] = get_args(RuleId)
#: Rules about a reconciliation window rather than a transfer (matched on `window_start`).
WINDOW_RULES: frozenset[RuleId] = frozenset({"XB-UNDECLARED-EGRESS", "XB-DLP-MISMATCH"})
DEFAULT_VIOLATION_RATE = 0.3

_BEIJING = ZoneInfo("Asia/Shanghai")
_MIB = 1024 * 1024
_LOGS_PER_ENTERPRISE_DAY = 20.0
_NON_EXEMPT_PURPOSES = ("business", "research", "marketing", "other")

Need = Literal["contract_or_certification", "security_assessment"]
Kind = Literal["security_assessment", "standard_contract", "certification"]


# --- public records ----------------------------------------------------------------------------


class TruthRecord(BaseModel):
    """One finding the rule engine must report about the world.

    Transfer rules name the transfer; window rules (`WINDOW_RULES`) name the destination
    `country` and the `window_start` the finding's `ts` must equal.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    rule_id: RuleId
    severity: Severity
    enterprise_id: Uscc
    transfer_id: str | None = None
    country: Country | None = None
    window_start: UtcDatetime | None = None
    injection: str


@dataclass(frozen=True)
class World:
    enterprises: list[Enterprise]
    filings: list[Filing]
    negative_list: list[NegativeListEntry]
    logs: list[TransferLog]
    flows: list[EgressFlow]
    truth: list[TruthRecord]


# --- static catalogues -------------------------------------------------------------------------


@dataclass(frozen=True)
class _Recipient:
    name: str
    country: str
    host: str
    ips: tuple[str, ...]


def _recipients() -> tuple[_Recipient, ...]:
    rows = (
        ("Acme GmbH", "DE", "sync.acme-gmbh"),
        ("Kessler Datenwerk GmbH", "DE", "api.kessler-datenwerk"),
        ("Nordlicht Analytics AG", "DE", "ingest.nordlicht"),
        ("Globex Inc.", "US", "data.globex"),
        ("Initech LLC", "US", "sftp.initech"),
        ("Cyberdyne Research Inc.", "US", "upload.cyberdyne"),
        ("Initrode Pte. Ltd.", "SG", "hub.initrode"),
        ("Merlion Data Pte. Ltd.", "SG", "edge.merlion-data"),
        ("Umbrella K.K.", "JP", "gw.umbrella-kk"),
        ("Sakura Systems Co., Ltd.", "JP", "api.sakura-systems"),
        ("Stark Industries Ltd", "GB", "files.stark"),
        ("Wonka Logistics plc", "GB", "edi.wonka-logistics"),
        ("Wayne Analytique SAS", "FR", "collect.wayne-analytique"),
        ("Hanbit Mobility Co., Ltd.", "KR", "telematics.hanbit"),
        ("Harbour Finance (HK) Ltd", "HK", "sftp.harbour-finance"),
        ("Tulip Pharma B.V.", "NL", "safety.tulip-pharma"),
        ("Emerald Shared Services DAC", "IE", "hr.emerald-ss"),
        ("Alpenrose Pharma AG", "CH", "trials.alpenrose"),
        ("Wattle Health Pty Ltd", "AU", "api.wattle-health"),
        ("Maple Aero Inc.", "CA", "ops.maple-aero"),
        ("Falcon Aviation Services FZE", "AE", "crew.falcon-aviation"),
        ("Petaling Retail Sdn. Bhd.", "MY", "orders.petaling-retail"),
        ("Siam Travel Co., Ltd.", "TH", "booking.siam-travel"),
        ("Lotus Commerce JSC", "VN", "crm.lotus-commerce"),
        ("Ipe Varejo Ltda.", "BR", "loja.ipe-varejo"),
    )
    out = []
    for index, (name, country, host) in enumerate(rows):
        block = "198.51.100" if index < 120 else "203.0.113"
        ips = (f"{block}.{2 * index + 1}", f"{block}.{2 * index + 2}")
        out.append(_Recipient(name, country, f"{host}.example", ips))
    return tuple(out)


_RECIPIENTS = _recipients()
_DESTINATION_COUNTRIES = tuple(sorted({r.country for r in _RECIPIENTS} | {"US", "SG", "RU", "IT"}))


@dataclass(frozen=True)
class _Template:
    name: str
    categories: tuple[str, ...]
    purpose: str
    rarity: float = 1.0


_HR = _Template("hr-records", ("pi.general", "pi.sensitive.identity"), "hr_management")
_TEMPLATES: dict[str, tuple[_Template, ...]] = {
    "automobile": (
        _Template("cad-exchange", ("business.engineering.cad",), "business"),
        _HR,
        _Template("warranty-claims", ("pi.general", "auto.owner"), "contract_performance"),
        _Template("telematics-research", ("auto.trajectory", "pi.general"), "research"),
        _Template("owner-crm", ("auto.owner", "pi.general"), "marketing"),
        _Template("cabin-voice", ("auto.cabin", "pi.sensitive.biometric"), "research"),
        _Template("hd-map-survey", ("important.auto.surveying",), "research", 0.3),
    ),
    "pharmaceutical": (
        _Template("assay-results", ("business.rnd.assay",), "research"),
        _HR,
        _Template("clinical-trial", ("pharma.clinical_trial", "pi.sensitive.health"), "research"),
        _Template("pharmacovigilance", ("pharma.adverse_event", "pi.sensitive.health"), "other"),
        _Template("hcp-crm", ("pi.general",), "marketing"),
        _Template("genomics", ("important.health.genetic",), "research", 0.3),
    ),
    "retail": (
        _Template("sales-report", ("business.sales.report",), "business"),
        _Template(
            "cross-border-orders", ("pi.general", "pi.sensitive.financial"), "contract_performance"
        ),
        _Template("member-crm", ("retail.member", "pi.general"), "marketing"),
        _Template("customer-service", ("pi.general",), "business"),
        _Template("payment-analytics", ("pi.general", "pi.sensitive.financial"), "business"),
        _HR,
    ),
    "civil_aviation": (
        _Template(
            "ticketing",
            ("aviation.passenger", "pi.general", "pi.sensitive.identity"),
            "contract_performance",
        ),
        _Template("loyalty", ("aviation.passenger", "pi.general"), "marketing"),
        _Template("crew-rostering", ("aviation.crew", "pi.general"), "hr_management"),
        _Template("maintenance", ("business.ops.maintenance",), "business"),
        _Template("apis-analytics", ("aviation.passenger", "pi.sensitive.identity"), "business"),
        _Template("airport-ops", ("important.aviation.operations",), "business", 0.3),
    ),
    "ai": (
        _Template("model-weights", ("business.model.weights",), "research"),
        _Template("training-corpus", ("ai.training_corpus", "pi.general"), "research"),
        _Template("face-dataset", ("pi.general", "pi.sensitive.biometric"), "research"),
        _Template("user-accounts", ("pi.general",), "business"),
        _HR,
    ),
    "finance": (
        _Template("group-reporting", ("business.finance.report",), "business"),
        _Template(
            "cross-border-payments",
            ("pi.general", "pi.sensitive.financial"),
            "contract_performance",
        ),
        _Template("group-risk", ("pi.general", "pi.sensitive.financial"), "business"),
        _Template("kyc-review", ("pi.general", "pi.sensitive.identity"), "other"),
        _Template("market-data", ("important.finance.market",), "research", 0.3),
        _HR,
    ),
    "other": (
        _Template("erp-sync", ("business.erp",), "business"),
        _HR,
        _Template("crm", ("pi.general",), "marketing"),
        _Template("support-tickets", ("pi.general",), "business"),
        _Template("membership-payments", ("pi.general", "pi.sensitive.financial"), "business"),
        _Template("transit-processing", ("transit.customer_records",), "business"),
    ),
}
_SECTORS = tuple(_TEMPLATES)
_SECTOR_WORDS = {
    "automobile": "Automotive",
    "pharmaceutical": "Pharmaceutical",
    "retail": "Retail",
    "civil_aviation": "Airlines",
    "ai": "Intelligence Technology",
    "finance": "Financial Services",
    "other": "Trading",
}
_NAME_WORDS = (
    "Huaxin",
    "Zhongke",
    "Tianyu",
    "Jinghua",
    "Hengtai",
    "Minsheng",
    "Boyuan",
    "Xinda",
    "Ruifeng",
    "Kangning",
    "Hongtu",
    "Yuanhang",
    "Lianchuang",
    "Shengshi",
    "Fuyao",
    "Anxin",
)
#: region -> (display name, administrative division codes, free-trade zone, FTZ share)
_REGIONS: dict[str, tuple[str, tuple[str, ...], str | None, float]] = {
    "beijing": ("Beijing", ("110105", "110108", "110115"), "beijing", 0.45),
    "tianjin": ("Tianjin", ("120116", "120104"), "tianjin", 0.5),
    "shanghai": ("Shanghai", ("310115", "310104"), "shanghai-lingang", 0.45),
    "guangdong": ("Shenzhen", ("440300", "440106"), None, 0.0),
    "zhejiang": ("Hangzhou", ("330106", "330108"), None, 0.0),
    "jiangsu": ("Suzhou", ("320594", "320505"), None, 0.0),
    "sichuan": ("Chengdu", ("510107", "510116"), None, 0.0),
}
_REGION_WEIGHTS = (0.22, 0.12, 0.22, 0.16, 0.1, 0.1, 0.08)
_FTZ_REGION = {"beijing": "beijing", "tianjin": "tianjin", "shanghai-lingang": "shanghai"}
_PROBE_CODES = {
    "beijing": "bj",
    "tianjin": "tj",
    "shanghai": "sh",
    "guangdong": "sz",
    "zhejiang": "hz",
    "jiangsu": "sz2",
    "sichuan": "cd",
}


@dataclass(frozen=True)
class _Item:
    list_key: str  # edition family; the list_id adds the edition year
    ftz: str
    region: str | None
    sector: str
    item_id: str
    categories: tuple[str, ...]
    description: str
    required_path: Need
    min_subjects: int | None


_ITEMS: tuple[_Item, ...] = (
    _Item(
        "beijing-ftz",
        "beijing",
        None,
        "automobile",
        "BJ-AUTO-01",
        ("auto.trajectory",),
        "Vehicle trajectory and location data",
        "security_assessment",
        None,
    ),
    _Item(
        "beijing-ftz",
        "beijing",
        None,
        "automobile",
        "BJ-AUTO-02",
        ("auto.owner",),
        "Vehicle owner and driver personal information",
        "contract_or_certification",
        100_000,
    ),
    _Item(
        "beijing-ftz",
        "beijing",
        None,
        "pharmaceutical",
        "BJ-PHARMA-01",
        ("pharma.clinical_trial",),
        "Clinical trial subject data",
        "security_assessment",
        None,
    ),
    _Item(
        "beijing-ftz",
        "beijing",
        None,
        "pharmaceutical",
        "BJ-PHARMA-02",
        ("pharma.adverse_event",),
        "Adverse event reports naming patients",
        "contract_or_certification",
        10_000,
    ),
    _Item(
        "beijing-ftz",
        "beijing",
        None,
        "civil_aviation",
        "BJ-AVIA-01",
        ("aviation.passenger",),
        "Passenger name records",
        "contract_or_certification",
        100_000,
    ),
    _Item(
        "tianjin-ftz",
        "tianjin",
        None,
        "automobile",
        "TJ-AUTO-01",
        ("auto.trajectory", "auto.cabin"),
        "Trajectory and in-cabin audio or video",
        "security_assessment",
        None,
    ),
    _Item(
        "tianjin-ftz",
        "tianjin",
        None,
        "retail",
        "TJ-RETAIL-01",
        ("retail.member",),
        "Membership profiles of retail customers",
        "contract_or_certification",
        None,
    ),
    _Item(
        "tianjin-city",
        "tianjin",
        "tianjin",
        "pharmaceutical",
        "TJC-PHARMA-01",
        ("pharma.clinical_trial",),
        "Clinical trial subject data (city-wide edition)",
        "security_assessment",
        None,
    ),
    _Item(
        "lingang",
        "shanghai-lingang",
        None,
        "automobile",
        "LG-AUTO-01",
        ("auto.trajectory",),
        "Intelligent connected vehicle trajectory data",
        "security_assessment",
        None,
    ),
    _Item(
        "lingang",
        "shanghai-lingang",
        None,
        "ai",
        "LG-AI-01",
        ("ai.training_corpus",),
        "Training corpora containing personal information",
        "contract_or_certification",
        None,
    ),
    _Item(
        "lingang",
        "shanghai-lingang",
        None,
        "finance",
        "LG-FIN-01",
        ("pi.sensitive.financial",),
        "Account and transaction records of individuals",
        "contract_or_certification",
        50_000,
    ),
)

_HOURLY_WEIGHTS = (
    0.3,
    0.2,
    0.2,
    0.2,
    0.2,
    0.3,
    0.6,
    1.2,
    2.6,
    4.0,
    4.4,
    4.0,
    2.6,
    3.4,
    4.2,
    4.2,
    3.8,
    3.0,
    2.0,
    1.5,
    1.2,
    0.9,
    0.6,
    0.4,
)
_HOURLY_CUM = tuple(math.fsum(_HOURLY_WEIGHTS[: i + 1]) for i in range(24))


# --- small pure helpers --------------------------------------------------------------------------


def _local_midnight(value: datetime) -> datetime:
    local = value.astimezone(_BEIJING)
    return local.replace(hour=0, minute=0, second=0, microsecond=0).astimezone(UTC)


def _poisson(rng: random.Random, lam: float) -> int:
    if lam <= 0:
        return 0
    if lam > 40:
        return max(0, round(rng.gauss(lam, math.sqrt(lam))))
    limit, k, p = math.exp(-lam), 0, rng.random()
    while p > limit:
        k += 1
        p *= rng.random()
    return k


def _lognormal_mean(rng: random.Random, mean: float, sigma: float) -> float:
    return mean * math.exp(rng.gauss(0.0, sigma) - sigma * sigma / 2)


def _uscc(rng: random.Random, division: str) -> str:
    """`9` (market regulator) `1` (enterprise), division, GB 11714 organisation code, check."""
    digits = [rng.randrange(10) for _ in range(8)]
    weights = (3, 7, 9, 10, 5, 8, 4, 2)
    check = 11 - sum(w * d for w, d in zip(weights, digits, strict=True)) % 11
    org = "".join(map(str, digits)) + {10: "X", 11: "0"}.get(check, str(check))
    first17 = "91" + division + org
    return first17 + str(uscc.calc_check_digit(first17))


# --- the mutable plan of one enterprise ----------------------------------------------------


@dataclass(eq=False)
class _Stream:
    name: str
    recipient: _Recipient
    categories: tuple[str, ...]
    purpose: str
    daily: float
    nightly: bool
    subjects_mean: float
    sensitive_frac: tuple[float, float] | None
    bulk_bytes: float  # median bytes of a transfer without personal information
    baseline: bool = True
    need: Need | None = None
    filing: Filing | None = None


@dataclass(eq=False, slots=True)
class _Tx:
    ts: datetime
    stream: _Stream
    recipient: str
    country: str
    host: str
    ip: str
    categories: tuple[str, ...]
    purpose: str
    subjects: int
    sensitive: int
    records: int
    size: int
    legal_basis: str = "exempt"
    filing_ref: str | None = None
    received_at: datetime | None = None
    observed: bool = True
    transfer_id: str = ""
    duplicate: bool = False


_Address = ipaddress.IPv4Address | ipaddress.IPv6Address


@lru_cache(maxsize=4096)
def _address(text: str) -> _Address:
    return ipaddress.ip_address(text)


@dataclass(eq=False, slots=True)
class _Flow:
    probe_id: str
    ts_start: datetime
    ts_end: datetime
    src_ip: _Address
    dst_ip: _Address
    dst_port: int
    protocol: str
    bytes_out: int
    bytes_in: int
    packets: int
    sni: str | None
    enterprise_id: str | None
    dst_country: str
    dlp: list[str]


@dataclass(frozen=True)
class _Constraints:
    ciio: bool | None = None
    neg_final: bool | None = None
    neg_item: _Item | None = None  # place the enterprise where this item applies
    exempt_only: bool = False  # the baseline needs no filing at all
    no_sa: bool = False  # the baseline needs at most a contract or certification
    sensitive_stream: bool = False  # at least one stream needing a contract (sensitive PI)
    no_item_streams: bool = False  # no stream carrying a negative-list item
    explicit_scope: bool = False  # filings list recipients, countries, categories, purposes
    drop_purpose: str | None = None
    decoys: tuple[str, ...] = ("expired", "revoked", "pending")


@dataclass(eq=False)
class _Truth:
    rule_id: RuleId
    injection: str
    tx: _Tx | None = None
    country: str | None = None
    window_start: datetime | None = None


@dataclass(eq=False)
class _Ent:
    index: int
    enterprise_id: str
    name: str
    sector: str
    region: str
    ftz: str | None
    is_ciio: bool
    cidrs: list[ipaddress.IPv4Network | ipaddress.IPv6Network]
    scale: float
    constraints: _Constraints
    items: list[_Item] = field(default_factory=list)  # negative-list items that apply
    streams: list[_Stream] = field(default_factory=list)
    txs: list[_Tx] = field(default_factory=list)
    filings: list[Filing] = field(default_factory=list)
    flows: list[_Flow] = field(default_factory=list)
    truth: list[_Truth] = field(default_factory=list)
    marked: list[_Tx] = field(default_factory=list)  # transfers an injection will perturb
    flags_enterprise_id: bool = False

    @property
    def neg_final(self) -> bool:
        return bool(self.items) and not self.is_ciio


# --- the generator -----------------------------------------------------------------------------


class _Synth:
    def __init__(
        self, enterprises: int, days: int, seed: int, start: datetime, violation_rate: float
    ) -> None:
        self.rng = random.Random(seed)
        self.cfg: RulesConfig = default_rules_config()
        self.n = enterprises
        self.days = days
        self.start = start.astimezone(UTC)
        self.end = self.start + timedelta(days=days)
        self.rate = violation_rate
        self.window_minutes = self.cfg.reconciliation.window_minutes
        self.filing_seq = 0
        self.used_ids: set[str] = set()
        self.negative_list = self._negative_list()

    # -- reference data --

    def _negative_list(self) -> list[NegativeListEntry]:
        current_from = _local_midnight(self.start - timedelta(days=180))
        old_from = _local_midnight(self.start - timedelta(days=720))
        old_until = current_from - timedelta(seconds=1)
        entries = []
        for item in _ITEMS:
            for edition, eff_from, eff_until, min_factor in (
                ("current", current_from, None, 1),
                ("old", old_from, old_until, 2),
            ):
                if edition == "old" and item.region is not None:
                    continue  # the city-wide edition is new
                year = eff_from.astimezone(_BEIJING).year
                entries.append(
                    NegativeListEntry(
                        list_id=f"{item.list_key}-{year}",
                        ftz=item.ftz,
                        sector=item.sector,
                        item_id=item.item_id,
                        categories=list(item.categories),
                        description=item.description,
                        required_path=item.required_path,
                        min_subjects=None
                        if item.min_subjects is None
                        else item.min_subjects * min_factor,
                        region=item.region,
                        effective_from=eff_from,
                        effective_until=eff_until,
                    )
                )
        return sorted(entries, key=lambda e: (e.list_id, e.item_id))

    def _items_for(self, sector: str, region: str, ftz: str | None) -> list[_Item]:
        """Current-edition items that apply to an enterprise (in force over the whole world)."""
        return [
            item
            for item in _ITEMS
            if item.sector == sector
            and (item.region == region if item.region is not None else item.ftz == ftz)
        ]

    # -- world --

    def run(self) -> World:
        rng = self.rng
        rules = list(RULE_IDS)
        rng.shuffle(rules)
        base = round(self.rate * self.n)
        n_inject = min(self.n, max(base, min(len(rules), self.n - self.n // 4)))
        injections: list[RuleId] = rules[:n_inject] + [
            rng.choice(RULE_IDS) for _ in range(max(0, n_inject - len(rules)))
        ]
        slots = rng.sample(range(self.n), n_inject)
        plan: dict[int, RuleId] = dict(zip(slots, injections, strict=True))
        ents = [self._enterprise(i, plan.get(i)) for i in range(self.n)]
        return self._assemble(ents)

    def _enterprise(self, index: int, rule: RuleId | None) -> _Ent:
        injector = _INJECTORS[rule] if rule is not None else None
        constraints = injector.constraints(self) if injector is not None else _Constraints()
        ent = self._profile(index, constraints)
        self._streams(ent)
        for stream in ent.streams:
            self._draw(ent, stream)
        if ent.constraints.sensitive_stream:
            self._ensure_sensitive(ent)
        if injector is not None:
            injector.prepare(self, ent)
        self._cap(ent)
        self._number(ent)
        self._plan_filings(ent)
        self._declare(ent)
        self._receive(ent)
        if injector is not None:
            injector.finish(self, ent)
        elif ent.txs and self.rng.random() < 0.3:
            self._resend(ent)
        self._flows(ent)
        if injector is not None:
            injector.after_flows(self, ent)
        return ent

    # -- profile --

    def _profile(self, index: int, c: _Constraints) -> _Ent:
        rng = self.rng
        if c.neg_item is not None:
            item = c.neg_item
            sector = item.sector
            region = item.region or _FTZ_REGION[item.ftz]
            ftz: str | None = item.ftz if item.region is None or rng.random() < 0.5 else None
        else:
            region = rng.choices(list(_REGIONS), weights=_REGION_WEIGHTS)[0]
            sector = rng.choice(_SECTORS)
            zone, share = _REGIONS[region][2], _REGIONS[region][3]
            ftz = zone if zone is not None and rng.random() < share else None
            if c.neg_final is True and not self._items_for(sector, region, ftz):
                item = rng.choice([i for i in _ITEMS if i.region is None])
                sector, ftz, region = item.sector, item.ftz, _FTZ_REGION[item.ftz]
            if c.neg_final is False:
                while self._items_for(sector, region, ftz):
                    ftz = None
                    sector = rng.choice(_SECTORS)
        if c.ciio is not None:
            is_ciio = c.ciio
        else:
            is_ciio = rng.random() < (0.3 if sector in ("finance", "civil_aviation") else 0.06)
        if c.neg_final is True:
            is_ciio = False
        display, divisions, _, _ = _REGIONS[region]
        while True:
            enterprise_id = _uscc(rng, rng.choice(divisions))
            if enterprise_id not in self.used_ids:
                self.used_ids.add(enterprise_id)
                break
        name = f"{display} {rng.choice(_NAME_WORDS)} {_SECTOR_WORDS[sector]} Co., Ltd."
        cidrs: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = [
            ipaddress.IPv4Network((int(ipaddress.IPv4Address("58.32.0.0")) + 16 * index, 28))
        ]
        if rng.random() < 0.2:
            cidrs.append(
                ipaddress.IPv4Network((int(ipaddress.IPv4Address("61.152.0.0")) + 8 * index, 29))
            )
        if rng.random() < 0.4 and index < 0x10000:
            cidrs.append(ipaddress.IPv6Network(f"2001:db8:{index:x}::/48"))
        if c.exempt_only:
            scale = 250.0
        else:
            tier = rng.choices((300.0, 6000.0, 90000.0), weights=(0.45, 0.4, 0.15))[0]
            scale = tier if not c.no_sa else min(tier, 6000.0)
        ent = _Ent(
            index=index,
            enterprise_id=enterprise_id,
            name=name,
            sector=sector,
            region=region,
            ftz=ftz,
            is_ciio=is_ciio,
            cidrs=cidrs,
            scale=scale * _lognormal_mean(rng, 1.0, 0.5),
            constraints=c,
            flags_enterprise_id=rng.random() < 0.2,
        )
        ent.items = self._items_for(sector, region, ftz)
        return ent

    # -- streams and transfers --

    def _allowed(self, ent: _Ent, template: _Template) -> bool:
        c = ent.constraints
        cats, purpose = template.categories, template.purpose
        exempt_12 = all(is_non_personal(x) for x in cats) or (
            purpose in self.cfg.exempt_purposes and not carries_important(cats)
        )
        if c.drop_purpose is not None and purpose == c.drop_purpose:
            return False
        if (c.no_sa or c.exempt_only) and carries_important(cats):
            return False
        if c.exempt_only and not exempt_12 and any(matches("pi.sensitive", x) for x in cats):
            return False
        return not (
            c.no_item_streams
            and any(matches_any(item.categories, x) for item in ent.items for x in cats)
        )

    def _streams(self, ent: _Ent) -> None:
        rng = self.rng
        pool = [t for t in _TEMPLATES[ent.sector] if self._allowed(ent, t)]
        want = rng.randint(2, min(5, len(pool)))
        chosen: list[_Template] = []
        candidates = list(pool)
        while candidates and len(chosen) < want:
            pick = rng.choices(candidates, weights=[t.rarity for t in candidates])[0]
            candidates.remove(pick)
            chosen.append(pick)
        if ent.constraints.sensitive_stream and not any(self._sensitive_need(t) for t in chosen):
            options = [t for t in pool if self._sensitive_need(t)]
            chosen.append(
                rng.choice(options)
                if options
                else _Template("group-risk", ("pi.general", "pi.sensitive.financial"), "business")
            )
        activity = _lognormal_mean(rng, 1.0, 0.6) * _LOGS_PER_ENTERPRISE_DAY
        weights = [rng.uniform(0.5, 2.0) for _ in chosen]
        total = sum(weights)
        for template, weight in zip(chosen, weights, strict=True):
            self._add_stream(ent, template, activity * weight / total)

    def sensitive_streams(self, ent: _Ent) -> list[_Stream]:
        """Baseline streams whose every transfer needs at least a contract (sensitive PI)."""
        return [
            s
            for s in ent.streams
            if s.baseline and self._sensitive_need(_Template(s.name, s.categories, s.purpose))
        ]

    def _ensure_sensitive(self, ent: _Ent) -> None:
        streams = self.sensitive_streams(ent)
        if not any(t.stream in streams for t in ent.txs):
            self._transfer(ent, streams[0], self._random_ts(self.rng.randrange(self.days), False))

    def _sensitive_need(self, template: _Template) -> bool:
        return (
            any(matches("pi.sensitive", c) for c in template.categories)
            and template.purpose not in self.cfg.exempt_purposes
            and not carries_important(template.categories)
        )

    def _add_stream(
        self,
        ent: _Ent,
        template: _Template,
        daily: float,
        recipient: _Recipient | None = None,
        baseline: bool = True,
    ) -> _Stream:
        rng = self.rng
        used = {s.recipient.name for s in ent.streams}
        if recipient is None:
            free = [r for r in _RECIPIENTS if r.name not in used] or list(_RECIPIENTS)
            recipient = rng.choice(free)
        pi = carries_personal(template.categories) and not carries_important(template.categories)
        nightly = not pi and rng.random() < 0.35
        per_day = 1.0 if nightly else max(daily, 0.3)
        sensitive = any(matches("pi.sensitive", c) for c in template.categories)
        stream = _Stream(
            name=template.name,
            recipient=recipient,
            categories=template.categories,
            purpose=template.purpose,
            daily=per_day,
            nightly=nightly,
            subjects_mean=ent.scale * rng.uniform(0.3, 1.5) / per_day if pi else 0.0,
            sensitive_frac=(rng.uniform(0.01, 0.1), rng.uniform(0.2, 0.9)) if sensitive else None,
            bulk_bytes=rng.uniform(5, 200) * _MIB
            if not carries_important(template.categories)
            else rng.uniform(100, 800) * _MIB,
            baseline=baseline,
        )
        ent.streams.append(stream)
        return stream

    def _random_ts(self, day: int, nightly: bool) -> datetime:
        rng = self.rng
        day_start = self.start + timedelta(days=day)
        local_hour0 = day_start.astimezone(_BEIJING).hour
        local = rng.randint(1, 3) if nightly else rng.choices(range(24), cum_weights=_HOURLY_CUM)[0]
        offset_hours = (local - local_hour0) % 24
        return day_start + timedelta(hours=offset_hours, seconds=rng.randrange(3600))

    def _draw(self, ent: _Ent, stream: _Stream) -> None:
        for day in range(self.days):
            weekday = (self.start + timedelta(days=day)).astimezone(_BEIJING).weekday()
            factor = 1.15 if weekday < 5 else 0.45
            count = 1 if stream.nightly else _poisson(self.rng, stream.daily * factor)
            for _ in range(count):
                self._transfer(ent, stream, self._random_ts(day, stream.nightly))

    def _transfer(
        self,
        ent: _Ent,
        stream: _Stream,
        ts: datetime,
        *,
        subjects: int | None = None,
        sensitive: int | None = None,
    ) -> _Tx:
        rng = self.rng
        if subjects is None:
            subjects = (
                min(5_000_000, 1 + int(_lognormal_mean(rng, stream.subjects_mean, 1.3)))
                if stream.subjects_mean > 0
                else 0
            )
        if sensitive is None:
            if stream.sensitive_frac is not None and subjects > 0:
                low, high = stream.sensitive_frac
                sensitive = max(1, int(subjects * rng.uniform(low, high)))
            else:
                sensitive = 0
        tx = _Tx(
            ts=ts,
            stream=stream,
            recipient=stream.recipient.name,
            country=stream.recipient.country,
            host=stream.recipient.host,
            ip=rng.choice(stream.recipient.ips),
            categories=stream.categories,
            purpose=stream.purpose,
            subjects=subjects,
            sensitive=sensitive,
            records=0,
            size=0,
            observed=rng.random() > 0.03,
        )
        self._size(tx)
        ent.txs.append(tx)
        return tx

    def _size(self, tx: _Tx) -> None:
        rng = self.rng
        people = max(tx.subjects, tx.sensitive)
        if people > 0:
            tx.records = people * rng.randint(1, 6)
            tx.size = int(tx.records * _lognormal_mean(rng, 900.0, 0.6)) + 2048
        else:
            tx.records = 1 + int(_lognormal_mean(rng, 4000.0, 1.2))
            tx.size = min(40 * 1024 * _MIB, int(_lognormal_mean(rng, tx.stream.bulk_bytes, 1.4)))

    def _exempt_12(self, categories: Sequence[str], purpose: str) -> bool:
        """Steps 1-2 of the procedure: exempt whatever the volumes."""
        if all(is_non_personal(c) for c in categories):
            return True
        return purpose in self.cfg.exempt_purposes and not carries_important(categories)

    def _counted(self, ent: _Ent) -> list[_Tx]:
        """Transfers that may count towards S and Z (an upper bound of the procedure's)."""
        return [
            t for t in ent.txs if not t.duplicate and not self._exempt_12(t.categories, t.purpose)
        ]

    def _cap(self, ent: _Ent) -> None:
        """Scale volumes down so the constraints' bounds hold (S, Z over all countable)."""
        c = ent.constraints
        thresholds = self.cfg.thresholds
        if c.exempt_only and not ent.neg_final:
            s_cap, z_cap = int(thresholds.subjects_contract * 0.6), 0
        elif c.no_sa:
            s_cap = int(thresholds.subjects_assessment * 0.8)
            z_cap = int(thresholds.sensitive_assessment * 0.8)
        else:
            return
        counted = self._counted(ent)
        fixed = [t for t in counted if not t.stream.baseline]
        base = [t for t in counted if t.stream.baseline]
        s_room = s_cap - sum(t.subjects for t in fixed)
        s_total = sum(t.subjects for t in base)
        if s_total > s_room:
            factor = max(0.0, s_room - len(base)) / s_total
            for t in base:
                t.subjects = max(1 if t.subjects else 0, int(t.subjects * factor))
        if z_cap == 0:
            for t in base:
                t.sensitive = 0
        z_room = z_cap - sum(t.sensitive for t in fixed)
        z_total = sum(t.sensitive for t in base)
        if z_total > z_room and z_total > 0:
            factor = max(0.0, z_room - len(base)) / z_total
            for t in base:
                t.sensitive = max(1 if t.sensitive else 0, int(t.sensitive * factor))
        for t in counted:
            self._size(t)

    def _number(self, ent: _Ent) -> None:
        ent.txs.sort(key=lambda t: t.ts)
        for seq, tx in enumerate(ent.txs, start=1):
            local = tx.ts.astimezone(_BEIJING)
            tx.transfer_id = f"TX{local:%Y%m%d}-{ent.index:05d}-{seq:06d}"

    def _ordered(self, txs: Iterable[_Tx]) -> list[_Tx]:
        return sorted((t for t in txs if not t.duplicate), key=lambda t: (t.ts, t.transfer_id))

    # -- filings --

    def _bounds(self, ent: _Ent) -> tuple[int, int]:
        counted = self._counted(ent)
        return sum(t.subjects for t in counted), sum(t.sensitive for t in counted)

    def _stream_need(self, ent: _Ent, stream: _Stream, s_bound: int, z_bound: int) -> Need | None:
        """The strongest path the procedure can require of any transfer of the stream."""
        thresholds = self.cfg.thresholds
        cats = stream.categories
        txs = [t for t in ent.txs if t.stream is stream]
        if self._exempt_12(cats, stream.purpose):
            return None
        if carries_important(cats) or (ent.is_ciio and carries_personal(cats)):
            return "security_assessment"
        if ent.neg_final:
            matched = [i for i in ent.items if any(matches_any(i.categories, c) for c in cats)]
            if not matched:
                return None
            if any(i.required_path == "security_assessment" for i in matched):
                return "security_assessment"
            return "contract_or_certification"
        sensitive = any(matches("pi.sensitive", c) for c in cats) or any(
            t.sensitive >= 1 for t in txs
        )
        if s_bound >= thresholds.subjects_assessment or (
            sensitive and z_bound >= thresholds.sensitive_assessment
        ):
            return "security_assessment"
        if s_bound >= thresholds.subjects_contract or any(
            t.sensitive >= thresholds.sensitive_contract for t in txs
        ):
            return "contract_or_certification"
        return None

    def new_filing_id(self, kind: str, valid_from: datetime, region: str) -> str:
        self.filing_seq += 1
        year = valid_from.astimezone(_BEIJING).year
        if kind == "security_assessment":
            return f"CAC-SA-{year}-{self.filing_seq:05d}"
        if kind == "standard_contract":
            return f"SC-{_PROBE_CODES[region].upper()}-{year}-{self.filing_seq:05d}"
        return f"PIPC-{year}-{self.filing_seq:05d}"

    def make_filing(
        self,
        ent: _Ent,
        kind: Kind,
        streams: Sequence[_Stream],
        *,
        status: Literal["active", "revoked", "pending"] = "active",
        valid_from: datetime | None = None,
        valid_until: datetime | None = None,
        default_until: bool = True,
        revoked_at: datetime | None = None,
        max_subjects: int | None = None,
        explicit: bool = False,
    ) -> Filing:
        rng = self.rng
        explicit = explicit or ent.constraints.explicit_scope
        if valid_from is None:
            valid_from = _local_midnight(self.start - timedelta(days=rng.randint(20, 640)))
        if valid_until is None and default_until:
            valid_until = self._clean_until(kind, valid_from)
        recipients = sorted({s.recipient.name for s in streams})
        countries = sorted({s.recipient.country for s in streams})
        categories = sorted({c for s in streams for c in s.categories})
        purposes = sorted({s.purpose for s in streams})
        if not explicit:
            if rng.random() < 0.25:
                categories = sorted(
                    {"pi.sensitive" if matches("pi.sensitive", c) else c for c in categories}
                )
            if rng.random() < 0.3:
                countries = []
            if rng.random() < 0.3:
                purposes = []
        filing = Filing(
            filing_id=self.new_filing_id(kind, valid_from, ent.region),
            enterprise_id=ent.enterprise_id,
            kind=kind,
            status=status,
            valid_from=valid_from,
            valid_until=valid_until,
            revoked_at=revoked_at,
            recipients=recipients,
            countries=countries,
            categories=categories,
            purposes=purposes,
            max_subjects=max_subjects,
        )
        ent.filings.append(filing)
        return filing

    def _clean_until(self, kind: str, valid_from: datetime) -> datetime | None:
        """A validity end comfortably after the world (no expiry notice is due)."""
        margin = self.end + timedelta(days=self.cfg.expiring_notice_days + 60)
        default = add_calendar_years(valid_from, self.cfg.assessment_validity_years, self.cfg.zone)
        if kind == "security_assessment":
            return None if default > margin else _local_midnight(margin + timedelta(days=90))
        if kind == "certification":
            return default if default > margin else _local_midnight(margin + timedelta(days=365))
        return (
            None
            if self.rng.random() < 0.6
            else _local_midnight(margin + timedelta(days=self.rng.randint(30, 900)))
        )

    def _plan_filings(self, ent: _Ent) -> None:
        rng = self.rng
        s_bound, z_bound = self._bounds(ent)
        for stream in ent.streams:
            if stream.baseline:
                stream.need = self._stream_need(ent, stream, s_bound, z_bound)
        covered = [s for s in ent.streams if s.baseline and s.need is not None]
        c = ent.constraints
        if c.exempt_only and covered:
            raise AssertionError(f"{ent.enterprise_id}: exempt-only plan needs filings")
        if c.no_sa and any(s.need == "security_assessment" for s in covered):
            raise AssertionError(f"{ent.enterprise_id}: no-assessment plan needs one")
        if not covered:
            if "pending" in c.decoys and rng.random() < 0.15:
                self._decoy(ent, "pending", list(ent.streams[:1]))
            return
        quota_people = sum(
            t.subjects + t.sensitive for t in ent.txs if t.stream in covered and not t.duplicate
        )
        groups: list[list[_Stream]]
        if any(s.need == "security_assessment" for s in covered):
            groups = [covered]
            kinds: list[Kind] = ["security_assessment"]
        else:
            shuffled = list(covered)
            rng.shuffle(shuffled)
            split = len(shuffled) > 1 and rng.random() < 0.5
            cut = rng.randint(1, len(shuffled) - 1) if split else 0
            groups = [shuffled[:cut], shuffled[cut:]] if cut else [shuffled]
            kinds = [rng.choice(("standard_contract", "certification")) for _ in groups]
        for group, kind in zip(groups, kinds, strict=True):
            max_subjects = None
            if rng.random() < 0.4:
                max_subjects = int(math.ceil((2 * quota_people + 10_000) / 10_000) * 10_000)
            filing = self.make_filing(ent, kind, group, max_subjects=max_subjects)
            for stream in group:
                stream.filing = filing
        for decoy in c.decoys:
            if rng.random() < 0.2:
                self._decoy(ent, decoy, covered)

    def _decoy(self, ent: _Ent, what: str, streams: Sequence[_Stream]) -> None:
        """A filing that never covers anything in the world: expired, revoked or pending."""
        rng = self.rng
        kind: Kind = rng.choice(("standard_contract", "certification", "security_assessment"))
        if what == "pending":
            self.make_filing(
                ent,
                kind,
                streams,
                status="pending",
                valid_from=_local_midnight(self.start - timedelta(days=rng.randint(1, 30))),
            )
        elif what == "expired":
            valid_from = _local_midnight(self.start - timedelta(days=rng.randint(1200, 1800)))
            kind = rng.choice(("standard_contract", "certification"))
            self.make_filing(
                ent,
                kind,
                streams,
                valid_from=valid_from,
                valid_until=_local_midnight(self.start - timedelta(days=rng.randint(2, 300))),
            )
        else:
            valid_from = _local_midnight(self.start - timedelta(days=rng.randint(400, 900)))
            revoked_at = valid_from + timedelta(days=rng.randint(30, 300), hours=rng.randint(0, 23))
            self.make_filing(
                ent,
                kind,
                streams,
                status=rng.choice(("revoked", "active")),
                valid_from=valid_from,
                revoked_at=revoked_at,
            )

    def _declare(self, ent: _Ent) -> None:
        for tx in ent.txs:
            filing = tx.stream.filing
            if filing is None:
                tx.legal_basis, tx.filing_ref = "exempt", None
            else:
                tx.legal_basis = filing.kind
                tx.filing_ref = filing.filing_id if self.rng.random() < 0.85 else None

    def _receive(self, ent: _Ent) -> None:
        rng = self.rng
        deadline = self.cfg.declaration_deadline_hours * 3600
        for tx in ent.txs:
            if rng.random() < 0.15:
                tx.received_at = None
                continue
            delay = min(deadline * 0.8, _lognormal_mean(rng, 90.0, 2.0))
            tx.received_at = tx.ts + timedelta(seconds=int(delay) + 1)

    def _resend(self, ent: _Ent) -> None:
        """A client re-sends an already accepted transfer (the idempotency key repeats)."""
        original = self.rng.choice(ent.txs)
        copy = replace(original, duplicate=True, observed=False)
        ent.txs.append(copy)

    # -- flows --

    def _src_ip(self, ent: _Ent) -> _Address:
        net = self.rng.choice(ent.cidrs)
        if net.version == 4:
            return net[self.rng.randrange(1, net.num_addresses - 1)]
        return net[self.rng.randrange(1, 0x10000)]

    def probe(self, ent: _Ent) -> str:
        return f"probe-{_PROBE_CODES[ent.region]}-{1 + ent.index % 2:02d}"

    def flow(
        self,
        ent: _Ent,
        ts: datetime,
        size: int,
        country: str,
        dst_ip: str,
        sni: str | None,
        dlp: Sequence[str] = (),
    ) -> _Flow:
        rng = self.rng
        window = window_start(ts, self.window_minutes)
        latest = window + timedelta(minutes=self.window_minutes) - timedelta(seconds=1)
        ts_start = min(ts + timedelta(seconds=rng.randint(0, 20)), latest)
        duration = max(1, int(size / (rng.uniform(2, 60) * _MIB)))
        flow = _Flow(
            probe_id=self.probe(ent),
            ts_start=ts_start,
            ts_end=ts_start + timedelta(seconds=duration),
            src_ip=self._src_ip(ent),
            dst_ip=_address(dst_ip),
            dst_port=443,
            protocol=rng.choice(("tcp", "tcp", "tcp", "quic")),
            bytes_out=size,
            bytes_in=int(size * rng.uniform(0.01, 0.05)) + 3000,
            packets=size // 1400 + 12,
            sni=sni,
            enterprise_id=ent.enterprise_id if ent.flags_enterprise_id else None,
            dst_country=country,
            dlp=list(dlp),
        )
        ent.flows.append(flow)
        return flow

    def _flows(self, ent: _Ent) -> None:
        rng = self.rng
        for tx in ent.txs:
            if not tx.observed or tx.duplicate:
                continue
            observed = int(tx.size * rng.uniform(0.985, 1.02))
            parts = 1 if observed < 50 * _MIB else rng.randint(1, 4)
            seen = [
                c
                for c in tx.categories
                if (matches("pi", c) or matches("important", c)) and rng.random() < 0.7
            ]
            for part in range(parts):
                share = observed // parts + (observed % parts if part == 0 else 0)
                self.flow(ent, tx.ts, share, tx.country, tx.ip, tx.host, seen)
        # background: small foreign SaaS chatter and large domestic traffic (ignored)
        chatter: dict[tuple[datetime, str], int] = defaultdict(int)
        for day in range(self.days):
            for _ in range(_poisson(rng, 3.0)):
                ts = self._random_ts(day, False)
                country = rng.choice(("US", "SG", "IE"))
                size = rng.randint(2_000, 900_000)
                key = (window_start(ts, self.window_minutes), country)
                if chatter[key] + size > 4 * _MIB:
                    continue
                chatter[key] += size
                self.flow(ent, ts, size, country, "203.0.113.250", "telemetry.saas-vendor.example")
            for _ in range(_poisson(rng, 4.0)):
                ts = self._random_ts(day, False)
                size = int(_lognormal_mean(rng, 300 * _MIB, 1.5))
                dlp = ["pi.sensitive.financial"] if rng.random() < 0.3 else []
                self.flow(
                    ent,
                    ts,
                    size,
                    "CN",
                    f"192.0.2.{rng.randint(1, 254)}",
                    "oss.cn-north.example.cn",
                    dlp,
                )

    def window_declared(self, ent: _Ent, window: datetime, country: str) -> tuple[int, set[str]]:
        size, cats = 0, set[str]()
        for tx in ent.txs:
            if tx.duplicate or tx.country != country:
                continue
            if window_start(tx.ts, self.window_minutes) == window:
                size += tx.size
                cats.update(tx.categories)
        return size, cats

    # -- expected outcome of the procedure for a transfer needing a path --

    def validity_end(self, filing: Filing) -> datetime | None:
        return validity_end(filing, self.cfg.zone, self.cfg.assessment_validity_years)

    def revoked(self, filing: Filing, ts: datetime) -> bool:
        return revoked_by(filing, ts)

    def valid(self, filing: Filing, ts: datetime) -> bool:
        return is_valid(filing, ts, self.validity_end(filing))

    @staticmethod
    def failed_points(filing: Filing, tx: _Tx) -> list[RuleId]:
        return [SCOPE_RULES[point] for point in scope_failures(filing, tx)]

    def outcome(self, ent: _Ent, tx: _Tx, path: Need, neglist: bool = False) -> list[RuleId]:
        """Findings of the Filings section for a transfer (quotas not modelled: no max)."""
        strong = ("security_assessment",)
        kinds = (
            strong
            if path == "security_assessment"
            else (*strong, "standard_contract", "certification")
        )
        held = [f for f in ent.filings if f.status != "pending"]
        k = [f for f in held if f.kind in kinds]
        valid = [f for f in k if self.valid(f, tx.ts)]
        if valid:
            fails = sorted(
                ((self.failed_points(f, tx), f.filing_id) for f in valid),
                key=lambda p: (len(p[0]), p[1]),
            )
            return fails[0][0]
        if k:
            if any(self.revoked(f, tx.ts) for f in k):
                return ["XB-FILING-REVOKED"]
            ends = [self.validity_end(f) for f in k]
            if any(end is not None and end < tx.ts for end in ends):
                return ["XB-FILING-EXPIRED"]
            return ["XB-NEGLIST-HIT" if neglist else "XB-PATH-MISSING"]
        if neglist:
            return ["XB-NEGLIST-HIT"]
        return ["XB-PATH-INSUFFICIENT" if held else "XB-PATH-MISSING"]

    # -- assembly --

    def _assemble(self, ents: list[_Ent]) -> World:
        enterprises = sorted(
            (
                Enterprise(
                    enterprise_id=e.enterprise_id,
                    name=e.name,
                    sector=e.sector,
                    region=e.region,
                    ftz=e.ftz,
                    is_ciio=e.is_ciio,
                    egress_cidrs=list(e.cidrs),
                )
                for e in ents
            ),
            key=lambda e: e.enterprise_id,
        )
        filings = sorted((f for e in ents for f in e.filings), key=lambda f: f.filing_id)
        logs = sorted(
            (self._log(e, t) for e in ents for t in e.txs),
            key=lambda log: (log.ts, log.enterprise_id, log.transfer_id, log.received_at or log.ts),
        )
        flows = self._flow_models(ents)
        truth = sorted(
            (self._truth(e, t) for e in ents for t in e.truth),
            key=lambda r: (
                r.rule_id,
                r.enterprise_id,
                r.transfer_id or "",
                r.window_start or self.start,
                r.country or "",
            ),
        )
        return World(
            enterprises=enterprises,
            filings=filings,
            negative_list=list(self.negative_list),
            logs=logs,
            flows=flows,
            truth=truth,
        )

    def _log(self, ent: _Ent, tx: _Tx) -> TransferLog:
        hosts = [tx.host] if self.rng.random() < 0.7 else [tx.host, tx.ip]
        return TransferLog(
            transfer_id=tx.transfer_id,
            enterprise_id=ent.enterprise_id,
            ts=tx.ts,
            recipient=tx.recipient,
            country=tx.country,
            categories=list(tx.categories),
            subjects=tx.subjects,
            sensitive_subjects=tx.sensitive,
            records=tx.records,
            bytes=tx.size,
            purpose=tx.purpose,
            legal_basis=tx.legal_basis,
            filing_ref=tx.filing_ref,
            dst_hosts=hosts,
            received_at=tx.received_at,
        )

    def _flow_models(self, ents: list[_Ent]) -> list[EgressFlow]:
        rng = self.rng
        raw = [f for e in ents for f in e.flows]
        # flows from sources nobody declared: attributed to no enterprise, never a finding
        for day in range(self.days if ents else 0):
            for _ in range(_poisson(rng, 2.0)):
                ts = self._random_ts(day, False)
                raw.append(
                    _Flow(
                        probe_id="probe-bj-01",
                        ts_start=ts,
                        ts_end=ts + timedelta(seconds=30),
                        src_ip=_address(f"59.110.{rng.randint(0, 255)}.{rng.randint(1, 254)}"),
                        dst_ip=_address("203.0.113.251"),
                        dst_port=443,
                        protocol="tcp",
                        bytes_out=rng.randint(1, 900) * _MIB,
                        bytes_in=50_000,
                        packets=90_000,
                        sni="cdn.unknown-tenant.example",
                        enterprise_id=None,
                        dst_country="US",
                        dlp=[],
                    )
                )
        raw.sort(
            key=lambda f: (
                f.ts_start,
                f.probe_id,
                f.src_ip.version,
                int(f.src_ip),
                f.dst_ip.version,
                int(f.dst_ip),
                f.bytes_out,
            )
        )
        counters: dict[str, int] = defaultdict(int)
        out = []
        for f in raw:
            counters[f.probe_id] += 1
            out.append(
                EgressFlow(
                    flow_id=f"{f.probe_id}-{counters[f.probe_id]:09d}",
                    probe_id=f.probe_id,
                    ts_start=f.ts_start,
                    ts_end=f.ts_end,
                    src_ip=f.src_ip,
                    dst_ip=f.dst_ip,
                    dst_port=f.dst_port,
                    protocol=f.protocol,
                    bytes_out=f.bytes_out,
                    bytes_in=f.bytes_in,
                    packets=f.packets,
                    sni=f.sni,
                    enterprise_id=f.enterprise_id,
                    dst_country=f.dst_country,
                    dlp_categories=sorted(set(f.dlp)),
                )
            )
        return out

    def _truth(self, ent: _Ent, record: _Truth) -> TruthRecord:
        return TruthRecord(
            rule_id=record.rule_id,
            severity=self.cfg.severities[record.rule_id],
            enterprise_id=ent.enterprise_id,
            transfer_id=record.tx.transfer_id if record.tx is not None else None,
            country=record.country,
            window_start=record.window_start,
            injection=record.injection,
        )


# --- injections ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Injector:
    constraints: Callable[[_Synth], _Constraints]
    prepare: Callable[[_Synth, _Ent], None] = lambda synth, ent: None
    finish: Callable[[_Synth, _Ent], None] = lambda synth, ent: None
    after_flows: Callable[[_Synth, _Ent], None] = lambda synth, ent: None


def rng_pick(synth: _Synth, options: Sequence[str]) -> str:
    return synth.rng.choice(list(options))


def _one_off_stream(synth: _Synth, ent: _Ent, sensitive: bool = True) -> _Stream:
    """A stream of sensitive personal information the enterprise has no valid filing for."""
    template = (
        _Template(
            "partner-sync",
            (
                "pi.general",
                rng_pick(
                    synth,
                    ("pi.sensitive.financial", "pi.sensitive.health", "pi.sensitive.identity"),
                ),
            ),
            rng_pick(synth, _NON_EXEMPT_PURPOSES),
        )
        if sensitive
        else _Template("partner-sync", ("pi.general",), "business")
    )
    used = {s.recipient.name for s in ent.streams}
    recipient = synth.rng.choice([r for r in _RECIPIENTS if r.name not in used])
    stream = synth._add_stream(ent, template, 0.0, recipient=recipient, baseline=False)
    stream.subjects_mean = synth.rng.uniform(200, 3000)
    return stream


def _injected_times(synth: _Synth, count: int) -> list[datetime]:
    return sorted(synth._random_ts(synth.rng.randrange(synth.days), False) for _ in range(count))


def _add_injected(
    synth: _Synth, ent: _Ent, stream: _Stream, count: int, last: datetime | None = None
) -> list[_Tx]:
    """`count` transfers of an injected stream (and one at `last`): modest, sensitive volumes."""
    times = _injected_times(synth, count) + ([last] if last is not None else [])
    return [
        synth._transfer(
            ent,
            stream,
            ts,
            subjects=min(5000, 1 + int(_lognormal_mean(synth.rng, stream.subjects_mean, 1.0))),
            sensitive=synth.rng.randint(1, 300) if stream.sensitive_frac is not None else 0,
        )
        for ts in times
    ]


def _injected(ent: _Ent) -> list[_Tx]:
    return [t for t in ent.txs if not t.stream.baseline and not t.duplicate]


def _record_outcomes(
    synth: _Synth,
    ent: _Ent,
    txs: Sequence[_Tx],
    path: Need,
    injection: str,
    neglist: bool = False,
) -> None:
    for tx in synth._ordered(txs):
        for rule in synth.outcome(ent, tx, path, neglist):
            ent.truth.append(_Truth(rule, injection, tx))


# PATH-MISSING: sensitive data to a partner with no usable filing (none, pending, not yet valid)


def _missing_prepare(synth: _Synth, ent: _Ent) -> None:
    stream = _one_off_stream(synth, ent)
    _add_injected(synth, ent, stream, synth.rng.randint(1, 3))


def _missing_finish(synth: _Synth, ent: _Ent) -> None:
    rng = synth.rng
    txs = synth._ordered(_injected(ent))
    stream = txs[0].stream
    variant = rng.choice(("none", "pending", "not-yet-valid"))
    if variant == "pending":
        filing = synth.make_filing(
            ent,
            "standard_contract",
            [stream],
            status="pending",
            valid_from=_local_midnight(synth.start - timedelta(days=rng.randint(1, 40))),
        )
    elif variant == "not-yet-valid":
        filing = synth.make_filing(
            ent,
            rng.choice(("standard_contract", "certification")),
            [stream],
            valid_from=txs[-1].ts + timedelta(days=rng.randint(1, 20), seconds=7),
        )
    for tx in txs:
        tx.legal_basis = "standard_contract" if variant != "not-yet-valid" else filing.kind
        tx.filing_ref = None
    _record_outcomes(synth, ent, txs, "contract_or_certification", f"path-missing:{variant}")


# PATH-INSUFFICIENT: important data while holding only contracts / certifications


def _insufficient_prepare(synth: _Synth, ent: _Ent) -> None:
    domain = {
        "automobile": "auto.surveying",
        "pharmaceutical": "health.genetic",
        "civil_aviation": "aviation.operations",
        "finance": "finance.market",
    }
    code = "important." + domain.get(ent.sector, "industry.production")
    stream = synth._add_stream(
        ent,
        _Template("important-export", (code,), rng_pick(synth, ("research", "business"))),
        0.0,
        baseline=False,
    )
    synth._transfer(ent, stream, _injected_times(synth, 1)[0], subjects=0, sensitive=0)


def _insufficient_finish(synth: _Synth, ent: _Ent) -> None:
    txs = _injected(ent)
    if not any(f.status != "pending" for f in ent.filings):
        raise AssertionError("path-insufficient needs a weaker filing")
    for tx in txs:
        tx.legal_basis, tx.filing_ref = "security_assessment", None
    _record_outcomes(synth, ent, txs, "security_assessment", "path-insufficient:important-data")


# NEGLIST-HIT: a negative-list item exported by an FTZ enterprise without its procedure


def _neglist_constraints(synth: _Synth) -> _Constraints:
    item = synth.rng.choice([i for i in _ITEMS if i.min_subjects is None])
    return _Constraints(
        ciio=False,
        neg_final=True,
        neg_item=item,
        no_item_streams=True,
        no_sa=True,
        decoys=("pending",),
    )


def _neglist_prepare(synth: _Synth, ent: _Ent) -> None:
    item = ent.constraints.neg_item
    assert item is not None
    stream = synth._add_stream(
        ent,
        _Template(
            "listed-export",
            (item.categories[0], "pi.general"),
            rng_pick(synth, ("research", "business", "marketing")),
        ),
        0.0,
        baseline=False,
    )
    stream.subjects_mean = synth.rng.uniform(100, 5000)
    stream.sensitive_frac = None
    _add_injected(synth, ent, stream, synth.rng.randint(1, 2))


def _neglist_finish(synth: _Synth, ent: _Ent) -> None:
    item = ent.constraints.neg_item
    assert item is not None
    txs = _injected(ent)
    for tx in txs:
        tx.legal_basis, tx.filing_ref = "standard_contract", None
    _record_outcomes(
        synth, ent, txs, item.required_path, f"neglist-hit:{item.item_id}", neglist=True
    )


# FILING-EXPIRED / FILING-REVOKED: the only filing for a partner is no longer valid


def _expired_finish(synth: _Synth, ent: _Ent) -> None:
    rng = synth.rng
    txs = synth._ordered(_injected(ent))
    stream = txs[0].stream
    variant = rng.choice(("valid-until", "assessment-3-years", "mid-world"))
    if variant == "assessment-3-years":
        valid_from = _local_midnight(
            add_calendar_years(synth.start, -synth.cfg.assessment_validity_years, synth.cfg.zone)
            - timedelta(days=rng.randint(3, 200))
        )
        if valid_from.astimezone(_BEIJING).strftime("%m-%d") == "02-29":
            valid_from -= timedelta(days=1)
        filing = synth.make_filing(
            ent, "security_assessment", [stream], valid_from=valid_from, default_until=False
        )
    else:
        if variant == "mid-world" and len(txs) > 1:
            until = txs[0].ts + (txs[1].ts - txs[0].ts) / 2
        else:
            until = _local_midnight(synth.start - timedelta(days=rng.randint(1, 90)))
        filing = synth.make_filing(
            ent,
            rng.choice(("standard_contract", "certification")),
            [stream],
            valid_from=_local_midnight(synth.start - timedelta(days=rng.randint(400, 1000))),
            valid_until=until,
        )
    for tx in txs:
        tx.legal_basis, tx.filing_ref = filing.kind, filing.filing_id
    _record_outcomes(synth, ent, txs, "contract_or_certification", f"filing-expired:{variant}")


def _revoked_finish(synth: _Synth, ent: _Ent) -> None:
    rng = synth.rng
    txs = synth._ordered(_injected(ent))
    stream = txs[0].stream
    variant = rng.choice(("revoked-at", "stale-status", "no-date", "mid-world"))
    status: Literal["active", "revoked"] = "revoked"
    revoked_at: datetime | None
    if variant == "mid-world" and len(txs) > 1:
        revoked_at = txs[0].ts + (txs[1].ts - txs[0].ts) / 2
    elif variant == "no-date":
        revoked_at = None
    else:
        revoked_at = synth.start - timedelta(days=rng.randint(1, 120), hours=rng.randint(0, 23))
        status = "active" if variant == "stale-status" else "revoked"
    filing = synth.make_filing(
        ent,
        rng.choice(("standard_contract", "certification", "security_assessment")),
        [stream],
        status=status,
        revoked_at=revoked_at,
    )
    for tx in txs:
        tx.legal_basis, tx.filing_ref = filing.kind, filing.filing_id
    _record_outcomes(synth, ent, txs, "contract_or_certification", f"filing-revoked:{variant}")


# SCOPE-*: one transfer outside the scope of every valid filing on exactly one point


def _scope_injector(rule: RuleId) -> _Injector:
    def constraints(synth: _Synth) -> _Constraints:
        return _Constraints(
            ciio=False,
            neg_final=False,
            no_sa=True,
            sensitive_stream=True,
            explicit_scope=True,
            drop_purpose="marketing" if rule == "XB-SCOPE-PURPOSE" else None,
        )

    def prepare(synth: _Synth, ent: _Ent) -> None:
        source = synth.rng.choice(synth.sensitive_streams(ent))
        ts = _injected_times(synth, 1)[0]
        ent.marked.append(
            synth._transfer(
                ent,
                source,
                ts,
                subjects=synth.rng.randint(50, 5000),
                sensitive=synth.rng.randint(1, 300),
            )
        )

    def finish(synth: _Synth, ent: _Ent) -> None:
        rng = synth.rng
        tx = ent.marked[0]
        source = tx.stream
        filings = [f for f in ent.filings if f.status != "pending"]
        if rule == "XB-SCOPE-RECIPIENT":
            listed = {r for f in filings for r in f.recipients}
            others = [
                r
                for r in _RECIPIENTS
                if r.name not in listed and r.country == source.recipient.country
            ]
            recipient = (
                rng.choice(others)
                if others
                else _Recipient(
                    f"{source.recipient.name.split()[0]} Holdings",
                    source.recipient.country,
                    "gw.holdings.example",
                    source.recipient.ips,
                )
            )
            tx.recipient, tx.host, tx.ip = recipient.name, recipient.host, recipient.ips[0]
        elif rule == "XB-SCOPE-COUNTRY":
            listed = {c for f in filings for c in f.countries}
            tx.country = rng.choice([c for c in _DESTINATION_COUNTRIES if c not in listed])
        elif rule == "XB-SCOPE-CATEGORY":
            options = [
                c
                for c in (
                    "pi.sensitive.biometric",
                    "pi.sensitive.minor",
                    "pi.sensitive.location",
                    "pi.sensitive.religion",
                    "pi.sensitive.health",
                    "pi.sensitive.financial",
                )
                if not any(matches_any(f.categories, c) for f in filings)
            ]
            tx.categories = (*tx.categories, rng.choice(options))
        else:
            tx.purpose = "marketing"
        filing = source.filing
        assert filing is not None
        tx.legal_basis, tx.filing_ref = filing.kind, filing.filing_id
        findings = synth.outcome(ent, tx, "contract_or_certification")
        if findings != [rule]:
            raise AssertionError(f"scope injection gave {findings}, wanted {rule}")
        ent.truth.append(_Truth(rule, f"scope:{rule}", tx))

    return _Injector(constraints=constraints, prepare=prepare, finish=finish)


# VOLUME-EXCEEDED: a dedicated filing whose max_subjects the partner stream outgrows


def _volume_prepare(synth: _Synth, ent: _Ent) -> None:
    stream = _one_off_stream(synth, ent)
    count = max(3, min(12, synth.days * 2))
    _add_injected(synth, ent, stream, count)


def _volume_finish(synth: _Synth, ent: _Ent) -> None:
    rng = synth.rng
    txs = synth._ordered(_injected(ent))
    stream = txs[0].stream
    people = [t.subjects + t.sensitive for t in txs]
    k = max(1, min(len(txs) - 1, int(len(txs) * rng.uniform(0.4, 0.8))))
    used_before = sum(people[:k])
    max_subjects = used_before + people[k] // 2
    filing = synth.make_filing(
        ent,
        rng.choice(("standard_contract", "certification")),
        [stream],
        max_subjects=max_subjects,
        explicit=True,
    )
    used: dict[int, int] = defaultdict(int)
    for tx in txs:
        tx.legal_basis, tx.filing_ref = filing.kind, filing.filing_id
        if synth.outcome(ent, tx, "contract_or_certification"):
            raise AssertionError("volume stream must be in scope")
        year = tx.ts.astimezone(synth.cfg.zone).year
        used[year] += tx.subjects + tx.sensitive
        if used[year] > max_subjects:
            ent.truth.append(_Truth("XB-VOLUME-EXCEEDED", "volume-exceeded", tx))


# THRESHOLD-CROSSED: an enterprise whose counted subjects reach 100,000 (and 1,000,000)


def _threshold_prepare(synth: _Synth, ent: _Ent) -> None:
    thresholds = synth.cfg.thresholds
    big = synth.rng.random() < 0.3
    target = (
        synth.rng.uniform(1.2, 2.0) * thresholds.subjects_assessment
        if big
        else synth.rng.uniform(1.5, 6.0) * thresholds.subjects_contract
    )
    counted = [t for t in synth._counted(ent) if t.subjects > 0]
    if not counted:
        stream = synth._add_stream(ent, _Template("crm", ("pi.general",), "marketing"), 3.0)
        synth._draw(ent, stream)
        counted = [t for t in synth._counted(ent) if t.subjects > 0]
        if not counted:
            counted = [synth._transfer(ent, stream, _injected_times(synth, 1)[0])]
    total = sum(t.subjects for t in counted)
    for t in counted:
        t.subjects = max(1, int(t.subjects * target / total))
        synth._size(t)


def _threshold_finish(synth: _Synth, ent: _Ent) -> None:
    thresholds = synth.cfg.thresholds
    marks = (
        ("S", thresholds.subjects_contract),
        ("S", thresholds.subjects_assessment),
        ("Z", thresholds.sensitive_assessment),
    )
    totals: dict[tuple[int, str], int] = defaultdict(int)
    for tx in synth._ordered(synth._counted(ent)):
        year = tx.ts.astimezone(synth.cfg.zone).year
        for name, value in (("S", tx.subjects), ("Z", tx.sensitive)):
            before = totals[(year, name)]
            totals[(year, name)] = before + value
            for mark_name, mark in marks:
                if mark_name == name and before < mark <= before + value:
                    ent.truth.append(
                        _Truth("XB-THRESHOLD-CROSSED", f"threshold-crossed:{name}>={mark}", tx)
                    )
    if not any(r.rule_id == "XB-THRESHOLD-CROSSED" for r in ent.truth):
        raise AssertionError("threshold injection crossed nothing")


# DECLARED-BASIS-INVALID: a compliant transfer that cites the wrong basis or filing


def _basis_finish(synth: _Synth, ent: _Ent) -> None:
    rng = synth.rng
    candidates = [
        t
        for t in synth._ordered(ent.txs)
        if t.stream.filing is not None
        and t.sensitive >= 1
        and not synth._exempt_12(t.categories, t.purpose)
        and not synth.outcome(ent, t, "contract_or_certification")
    ]
    tx = rng.choice(candidates)
    filing = tx.stream.filing
    assert filing is not None
    variant = rng.choice(("unknown-ref", "claims-exempt", "wrong-kind"))
    if variant == "unknown-ref":
        tx.legal_basis = filing.kind
        tx.filing_ref = f"SC-{rng.randint(2019, 2023)}-{rng.randint(100000, 999999)}-X"
    elif variant == "claims-exempt":
        tx.legal_basis, tx.filing_ref = "exempt", None
    else:
        tx.legal_basis = (
            "certification" if filing.kind == "standard_contract" else ("standard_contract")
        )
        tx.filing_ref = filing.filing_id
    ent.truth.append(_Truth("XB-DECLARED-BASIS-INVALID", f"declared-basis:{variant}", tx))


# FILING-EXPIRING: the filing covering a partner stream ends within the notice period


def _expiring_prepare(synth: _Synth, ent: _Ent) -> None:
    stream = _one_off_stream(synth, ent)
    count = max(2, min(15, synth.days))
    last = synth.end - timedelta(hours=synth.rng.randint(2, 20), seconds=synth.rng.randrange(3600))
    _add_injected(synth, ent, stream, count, last=last)


def _expiring_finish(synth: _Synth, ent: _Ent) -> None:
    rng = synth.rng
    txs = synth._ordered(_injected(ent))
    stream = txs[0].stream
    notice = timedelta(days=synth.cfg.expiring_notice_days)
    end = _local_midnight(synth.end + timedelta(days=rng.randint(3, 20)))
    if rng.random() < 0.4:
        valid_from = add_calendar_years(end, -synth.cfg.assessment_validity_years, synth.cfg.zone)
        filing = synth.make_filing(
            ent,
            "security_assessment",
            [stream],
            valid_from=valid_from,
            default_until=False,
            explicit=True,
        )
    else:
        filing = synth.make_filing(
            ent,
            rng.choice(("standard_contract", "certification")),
            [stream],
            valid_until=end + timedelta(seconds=37),
            explicit=True,
        )
    validity_end = synth.validity_end(filing)
    assert validity_end is not None
    for tx in txs:
        tx.legal_basis, tx.filing_ref = filing.kind, filing.filing_id
        if synth.outcome(ent, tx, "contract_or_certification"):
            raise AssertionError("expiring stream must be covered")
    first = next(t for t in txs if validity_end - t.ts <= notice)
    if validity_end - first.ts == notice:
        raise AssertionError("expiring notice exactly on the boundary")
    ent.truth.append(_Truth("XB-FILING-EXPIRING", "filing-expiring", first))


# LATE-DECLARATION: declarations received after the deadline


def _late_finish(synth: _Synth, ent: _Ent) -> None:
    rng = synth.rng
    deadline = timedelta(hours=synth.cfg.declaration_deadline_hours)
    for tx in rng.sample(ent.txs, min(len(ent.txs), rng.randint(1, 3))):
        tx.received_at = tx.ts + deadline + timedelta(minutes=rng.randint(30, 4 * 24 * 60))
        ent.truth.append(_Truth("XB-LATE-DECLARATION", "late-declaration", tx))


# UNDECLARED-EGRESS / DLP-MISMATCH: probe flows the declarations do not explain


def _undeclared_after(synth: _Synth, ent: _Ent) -> None:
    rng = synth.rng
    recon = synth.cfg.reconciliation
    ts = synth._random_ts(rng.randrange(synth.days), False)
    window = window_start(ts, synth.window_minutes)
    countries = [*sorted({t.country for t in ent.txs}), "US", "RU", "SG"]
    country = rng.choice(countries)
    declared, _ = synth.window_declared(ent, window, country)
    floor = recon.tolerance_ratio * declared + recon.tolerance_bytes
    total = int(2 * floor) + rng.randint(100, 3000) * _MIB
    parts = rng.randint(1, 3)
    for _ in range(parts):
        synth.flow(
            ent,
            ts,
            total // parts,
            country,
            f"203.0.113.{rng.randint(200, 240)}",
            "files.sharehub.example",
        )
    ent.truth.append(_Truth("XB-UNDECLARED-EGRESS", "undeclared-egress", None, country, window))


def _dlp_after(synth: _Synth, ent: _Ent) -> None:
    rng = synth.rng
    sensitive = (
        "pi.sensitive.health",
        "pi.sensitive.biometric",
        "pi.sensitive.minor",
        "pi.sensitive.location",
        "important.industry.production",
    )
    flows = [f for f in ent.flows if f.dst_country != "CN" and f.sni != "files.sharehub.example"]
    rng.shuffle(flows)
    for flow in flows:
        window = window_start(flow.ts_start, synth.window_minutes)
        _, declared = synth.window_declared(ent, window, flow.dst_country)
        options = [c for c in sensitive if not matches_any(declared, c)]
        if options:
            flow.dlp.append(rng.choice(options))
            ent.truth.append(
                _Truth("XB-DLP-MISMATCH", "dlp-mismatch", None, flow.dst_country, window)
            )
            return
    raise AssertionError("no flow for a DLP mismatch")


def _clean(synth: _Synth) -> _Constraints:
    return _Constraints()


def _exempt_baseline(synth: _Synth) -> _Constraints:
    return _Constraints(ciio=False, neg_final=False, exempt_only=True, decoys=("pending",))


def _revoked_baseline(synth: _Synth) -> _Constraints:
    return _Constraints(
        ciio=False, neg_final=False, exempt_only=True, decoys=("pending", "expired")
    )


def _contract_baseline(synth: _Synth) -> _Constraints:
    return _Constraints(ciio=False, neg_final=False, no_sa=True, sensitive_stream=True)


def _insufficient_constraints(synth: _Synth) -> _Constraints:
    return _Constraints(
        ciio=False, neg_final=False, no_sa=True, sensitive_stream=True, decoys=("pending",)
    )


def _threshold_constraints(synth: _Synth) -> _Constraints:
    return _Constraints(ciio=False, neg_final=False)


_INJECTORS: dict[RuleId, _Injector] = {
    "XB-PATH-MISSING": _Injector(_exempt_baseline, _missing_prepare, _missing_finish),
    "XB-PATH-INSUFFICIENT": _Injector(
        _insufficient_constraints, _insufficient_prepare, _insufficient_finish
    ),
    "XB-NEGLIST-HIT": _Injector(_neglist_constraints, _neglist_prepare, _neglist_finish),
    "XB-FILING-EXPIRED": _Injector(_exempt_baseline, _missing_prepare, _expired_finish),
    "XB-FILING-REVOKED": _Injector(_revoked_baseline, _missing_prepare, _revoked_finish),
    "XB-SCOPE-RECIPIENT": _scope_injector("XB-SCOPE-RECIPIENT"),
    "XB-SCOPE-COUNTRY": _scope_injector("XB-SCOPE-COUNTRY"),
    "XB-SCOPE-CATEGORY": _scope_injector("XB-SCOPE-CATEGORY"),
    "XB-SCOPE-PURPOSE": _scope_injector("XB-SCOPE-PURPOSE"),
    "XB-VOLUME-EXCEEDED": _Injector(_contract_baseline, _volume_prepare, _volume_finish),
    "XB-THRESHOLD-CROSSED": _Injector(
        _threshold_constraints, _threshold_prepare, _threshold_finish
    ),
    "XB-DECLARED-BASIS-INVALID": _Injector(_contract_baseline, finish=_basis_finish),
    "XB-UNDECLARED-EGRESS": _Injector(_clean, after_flows=_undeclared_after),
    "XB-DLP-MISMATCH": _Injector(_clean, after_flows=_dlp_after),
    "XB-LATE-DECLARATION": _Injector(_clean, finish=_late_finish),
    "XB-FILING-EXPIRING": _Injector(_contract_baseline, _expiring_prepare, _expiring_finish),
}


# --- public API ----------------------------------------------------------------------------------


def synthesize(
    enterprises: int = 50,
    days: int = 7,
    seed: int = 0,
    start: datetime | None = None,
    *,
    violation_rate: float = DEFAULT_VIOLATION_RATE,
) -> World:
    """A synthetic world of `enterprises` exporters over `days` days from `start`.

    About `enterprises * days * 20` transfer logs. A share `violation_rate` of the enterprises
    (at least one per rule id of the catalogue once there are enough enterprises) carries one
    injected violation, recorded in `World.truth`.
    """
    if enterprises < 0 or days < 1:
        raise ValueError("enterprises must be >= 0 and days >= 1")
    if not 0.0 <= violation_rate <= 1.0:
        raise ValueError("violation_rate must be between 0 and 1")
    start = DEFAULT_START if start is None else start
    if start.tzinfo is None or start.utcoffset() is None:
        raise ValueError("start must be timezone-aware")
    return _Synth(enterprises, days, seed, start, violation_rate).run()


FILE_NAMES = {
    "enterprises": "enterprises.jsonl",
    "filings": "filings.jsonl",
    "negative_list": "negative_list.jsonl",
    "logs": "transfer_logs.jsonl",
    "flows": "flows.jsonl",
    "truth": "truth.jsonl",
}


def _jsonl(records: Iterable[BaseModel]) -> bytes:
    return b"".join(orjson.dumps(r.model_dump(mode="json")) + b"\n" for r in records)


def write_world(world: World, directory: Path) -> None:
    """Write the replay layout (plus `truth.jsonl`): one JSON object a line, stable bytes."""
    directory.mkdir(parents=True, exist_ok=True)
    for attribute, name in FILE_NAMES.items():
        records: list[BaseModel] = list(getattr(world, attribute))
        (directory / name).write_bytes(_jsonl(records))
