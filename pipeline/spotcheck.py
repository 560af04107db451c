"""Spot-check draw, "double random, one public": random targets, random inspectors, published.

Everything here is pure except the explicit read/write helpers at the bottom. No clock is read
and no ``random`` state is used: every random choice is a rank by HMAC-SHA256 keyed with the
published seed, so anyone holding the seed and the two registers can recompute the plan byte
for byte (``verify_plan``).

Rules (the published method; change ``METHOD`` if any of them changes):

* Month index of a period ``YYYY-MM`` is ``year * 12 + month - 1``.
* Due rule, per tier: a tier is due in a period when ``month_index % every_months == 0``.
  So with the default policies A is due in January, B in January and July, C in January,
  April, July and October, D every month. Chosen over spreading per-enterprise due dates
  because (1) the policy ratio is the share of the tier checked per cycle, and rounding up
  happens once per tier per cycle; splitting a tier into ``every_months`` cohorts would round
  up in every cohort, so a tier A of 20 enterprises would get ~12 checks a year instead of 1;
  (2) it depends on neither the seed nor the register, so which tiers were due is obvious
  from the period alone; (3) it is one sentence to publish. Cost: January carries every tier.
* Targets: for each due tier, ``k = ceil(ratio * n)`` (exact decimal arithmetic, never more
  than ``n``) enterprises with the lowest ``HMAC(seed, ["target", period, tier, id])``.
  Each enterprise has one current tier, so none is drawn twice.
* Inspectors: selections are processed in draw order (tiers in sorted order, then target
  rank); each gets the two inspectors with the lowest ``(load so far, HMAC(seed, ["inspector",
  period, enterprise_id, inspector_id]))``. Greedy least-loaded first keeps every inspector's
  load within one of every other's; the HMAC breaks ties at random.
* HMAC message: the canonical JSON array of the fields above (UTF-8, no whitespace), which is
  unambiguous whatever characters the ids contain. Key: the seed's bytes (from hex).
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
import itertools
import math
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any

import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError

PLAN_VERSION = 1
METHOD = "xbmon-spotcheck-v1"
MIN_SEED_BITS = 128
INSPECTORS_PER_TARGET = 2

_PERIOD_RE = re.compile(r"^(\d{4})-(\d{2})$")
_SEED_RE = re.compile(r"^[0-9a-fA-F]+$")


class TierPolicy(BaseModel):
    """Share of a tier checked per cycle, and the cycle length in months."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    ratio: Annotated[float, Field(ge=0.0, le=1.0)]
    every_months: Annotated[int, Field(ge=1, le=120)]


DEFAULT_POLICIES: dict[str, TierPolicy] = {
    "A": TierPolicy(ratio=0.05, every_months=12),
    "B": TierPolicy(ratio=0.10, every_months=6),
    "C": TierPolicy(ratio=0.20, every_months=3),
    "D": TierPolicy(ratio=0.40, every_months=1),
}

PolicyInput = Mapping[str, TierPolicy | tuple[float, int]]


class Selection(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    enterprise_id: str
    tier: str
    inspectors: tuple[str, ...]


class TierCount(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    registered: int
    due: bool
    selected: int


class Plan(BaseModel):
    """A published spot-check plan. ``plan_json`` gives its canonical bytes."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    v: int = PLAN_VERSION
    method: str = METHOD
    period: str
    seed: str
    register_digest: str
    inspectors_digest: str
    policies: dict[str, TierPolicy]
    selections: tuple[Selection, ...]
    counts: dict[str, TierCount]


class VerifyResult(BaseModel):
    model_config = ConfigDict(frozen=True)

    ok: bool
    reasons: list[str]


class SpotcheckError(ValueError):
    """Bad input to the draw (period, seed, registers, policies)."""


# --- validation -------------------------------------------------------------------------------


def parse_period(period: str) -> tuple[int, int]:
    """``"YYYY-MM"`` -> (year, month); raises SpotcheckError with a readable message."""
    match = _PERIOD_RE.fullmatch(period)
    if match is None:
        raise SpotcheckError(f"period must be YYYY-MM (e.g. 2026-03), got {period!r}")
    year, month = int(match.group(1)), int(match.group(2))
    if not 1 <= month <= 12:
        raise SpotcheckError(f"period month must be 01-12, got {period!r}")
    if year < 1:
        raise SpotcheckError(f"period year must be positive, got {period!r}")
    return year, month


def month_index(period: str) -> int:
    year, month = parse_period(period)
    return year * 12 + month - 1


def normalize_seed(seed: str) -> str:
    """Lower-case hex of at least 128 bits (32 hex digits), even length."""
    text = seed.strip()
    if text[:2].lower() == "0x":
        text = text[2:]
    if not text or _SEED_RE.fullmatch(text) is None:
        raise SpotcheckError(f"seed must be hexadecimal, got {seed!r}")
    if len(text) % 2:
        raise SpotcheckError(f"seed must have an even number of hex digits, got {len(text)}")
    if len(text) * 4 < MIN_SEED_BITS:
        raise SpotcheckError(
            f"seed must be at least {MIN_SEED_BITS} bits ({MIN_SEED_BITS // 4} hex digits), "
            f"got {len(text) * 4} bits"
        )
    return text.lower()


def normalize_policies(policies: PolicyInput) -> dict[str, TierPolicy]:
    out: dict[str, TierPolicy] = {}
    for tier, policy in policies.items():
        if not tier:
            raise SpotcheckError("tier names must be non-empty")
        if isinstance(policy, TierPolicy):
            out[tier] = policy
            continue
        try:
            ratio, every = policy
            out[tier] = TierPolicy(ratio=ratio, every_months=every)
        except (ValidationError, TypeError, ValueError) as exc:
            raise SpotcheckError(f"bad policy for tier {tier!r}: {exc}") from exc
    return dict(sorted(out.items()))


def _check_register(
    register: Iterable[tuple[str, str]], tiers: Iterable[str]
) -> list[tuple[str, str]]:
    known = set(tiers)
    rows = sorted((str(eid), str(tier)) for eid, tier in register)
    seen: set[str] = set()
    for eid, tier in rows:
        if not eid:
            raise SpotcheckError("enterprise register has an empty enterprise_id")
        if eid in seen:
            raise SpotcheckError(f"enterprise {eid!r} appears more than once in the register")
        seen.add(eid)
        if tier not in known:
            raise SpotcheckError(
                f"enterprise {eid!r} has tier {tier!r}, which has no policy "
                f"(known: {', '.join(sorted(known))})"
            )
    return rows


def _check_inspectors(inspectors: Iterable[str]) -> list[str]:
    ids = sorted(str(i) for i in inspectors)
    for a, b in itertools.pairwise(ids):
        if a == b:
            raise SpotcheckError(f"inspector {a!r} appears more than once in the register")
    if any(not i for i in ids):
        raise SpotcheckError("inspector register has an empty id")
    return ids


# --- digests and HMAC ranks -------------------------------------------------------------------


def _canonical(value: Any) -> bytes:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)


def register_digest(register: Iterable[tuple[str, str]]) -> str:
    """SHA-256 of the canonical JSON of the sorted ``[[enterprise_id, tier], ...]``."""
    rows = sorted([str(eid), str(tier)] for eid, tier in register)
    return hashlib.sha256(_canonical(rows)).hexdigest()


def inspectors_digest(inspectors: Iterable[str]) -> str:
    """SHA-256 of the canonical JSON of the sorted inspector ids."""
    return hashlib.sha256(_canonical(sorted(str(i) for i in inspectors))).hexdigest()


def rank(seed: str, *fields: str) -> str:
    """Hex HMAC-SHA256(seed bytes, canonical JSON array of ``fields``); lower ranks first."""
    key = bytes.fromhex(normalize_seed(seed))
    return hmac.new(key, _canonical(list(fields)), hashlib.sha256).hexdigest()


def is_due(policy: TierPolicy, period: str) -> bool:
    return month_index(period) % policy.every_months == 0


def sample_size(ratio: float, count: int) -> int:
    """``ceil(ratio * count)`` in exact decimal arithmetic (0.1 * 30 is 3, not 4), capped."""
    exact = Decimal(repr(ratio)) * count
    return min(count, math.ceil(exact))


# --- the draw ---------------------------------------------------------------------------------


def draw_plan(
    period: str,
    seed: str,
    register: Iterable[tuple[str, str]],
    inspectors: Iterable[str],
    policies: PolicyInput = DEFAULT_POLICIES,
) -> Plan:
    """Draw the plan for ``period``; same arguments (in any order) give the same plan."""
    parse_period(period)
    seed_hex = normalize_seed(seed)
    pols = normalize_policies(policies)
    rows = _check_register(register, pols)
    insp = _check_inspectors(inspectors)

    by_tier: dict[str, list[str]] = {tier: [] for tier in pols}
    for eid, tier in rows:
        by_tier[tier].append(eid)

    drawn: list[tuple[str, str]] = []
    counts: dict[str, TierCount] = {}
    for tier, policy in pols.items():
        members = by_tier[tier]
        due = is_due(policy, period)
        chosen: list[str] = []
        if due:
            k = sample_size(policy.ratio, len(members))
            chosen = sorted(members, key=lambda e: rank(seed_hex, "target", period, tier, e))[:k]
        drawn.extend((eid, tier) for eid in chosen)
        counts[tier] = TierCount(registered=len(members), due=due, selected=len(chosen))

    if drawn and len(insp) < INSPECTORS_PER_TARGET:
        raise SpotcheckError(
            f"need at least {INSPECTORS_PER_TARGET} inspectors to staff {len(drawn)} "
            f"spot checks, the register has {len(insp)}"
        )

    load = dict.fromkeys(insp, 0)
    selections: list[Selection] = []
    for eid, tier in drawn:
        ranked = sorted(insp, key=lambda i: (load[i], rank(seed_hex, "inspector", period, eid, i)))
        pair = tuple(ranked[:INSPECTORS_PER_TARGET])
        for i in pair:
            load[i] += 1
        selections.append(Selection(enterprise_id=eid, tier=tier, inspectors=pair))

    return Plan(
        period=period,
        seed=seed_hex,
        register_digest=register_digest(rows),
        inspectors_digest=inspectors_digest(insp),
        policies=pols,
        selections=tuple(selections),
        counts=counts,
    )


# --- rendering --------------------------------------------------------------------------------


def plan_json(plan: Plan) -> bytes:
    """Canonical bytes: sorted keys, no whitespace, selections in draw order."""
    return _canonical(plan.model_dump(mode="json"))


CSV_HEADER = ("period", "seq", "enterprise_id", "tier", "inspector_1", "inspector_2")


def plan_csv(plan: Plan) -> str:
    """One row per selection in draw order; ``\\n`` line endings."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_HEADER)
    for seq, sel in enumerate(plan.selections, start=1):
        writer.writerow((plan.period, seq, sel.enterprise_id, sel.tier, *sel.inspectors))
    return buffer.getvalue()


def parse_plan(data: bytes | str) -> Plan:
    try:
        return Plan.model_validate_json(data)
    except ValidationError as exc:
        raise SpotcheckError(f"not a valid spot-check plan: {exc}") from exc


# --- verification -----------------------------------------------------------------------------


def verify_plan(
    published: bytes | Plan,
    register: Iterable[tuple[str, str]],
    inspectors: Iterable[str],
    policies: PolicyInput = DEFAULT_POLICIES,
    *,
    expected_period: str | None = None,
    expected_seed: str | None = None,
) -> VerifyResult:
    """Recompute the plan from its own period and seed and compare.

    ``expected_period`` / ``expected_seed``: what was announced publicly, if the caller has it
    (a plan drawn with another seed than the announced one is caught here).
    """
    reasons: list[str] = []
    if isinstance(published, Plan):
        plan = published
        raw: bytes | None = None
    else:
        try:
            plan = parse_plan(published)
        except SpotcheckError as exc:
            return VerifyResult(ok=False, reasons=[str(exc)])
        raw = bytes(published)

    try:
        parse_period(plan.period)
        seed_hex = normalize_seed(plan.seed)
    except SpotcheckError as exc:
        return VerifyResult(ok=False, reasons=[f"published plan: {exc}"])
    if plan.v != PLAN_VERSION or plan.method != METHOD:
        reasons.append(f"plan method {plan.method!r} v{plan.v} is not {METHOD!r} v{PLAN_VERSION}")
    if expected_period is not None and expected_period != plan.period:
        reasons.append(f"plan is for period {plan.period}, expected {expected_period}")
    if expected_seed is not None:
        try:
            if normalize_seed(expected_seed) != seed_hex:
                reasons.append("plan seed differs from the published seed")
        except SpotcheckError as exc:
            reasons.append(f"expected seed: {exc}")

    rows = sorted((str(e), str(t)) for e, t in register)
    insp = sorted(str(i) for i in inspectors)
    if register_digest(rows) != plan.register_digest:
        reasons.append(
            "enterprise register differs from the one the plan was drawn from "
            "(register_digest mismatch): data changed, not necessarily tampering"
        )
    if inspectors_digest(insp) != plan.inspectors_digest:
        reasons.append(
            "inspector register differs from the one the plan was drawn from "
            "(inspectors_digest mismatch)"
        )
    try:
        pols = normalize_policies(policies)
    except SpotcheckError as exc:
        return VerifyResult(ok=False, reasons=[*reasons, str(exc)])
    if pols != plan.policies:
        reasons.append("tier policies differ from the ones recorded in the plan")

    try:
        expected = draw_plan(plan.period, seed_hex, rows, insp, pols)
    except SpotcheckError as exc:
        return VerifyResult(ok=False, reasons=[*reasons, f"cannot recompute: {exc}"])

    reasons.extend(_diff_selections(plan.selections, expected.selections))
    for tier in sorted(set(plan.counts) | set(expected.counts)):
        got, want = plan.counts.get(tier), expected.counts.get(tier)
        if got != want:
            reasons.append(
                f"counts for tier {tier}: plan says {_fmt(got)}, recomputed {_fmt(want)}"
            )
    if not reasons and plan != expected:
        reasons.append("plan differs from the recomputed plan")
    if not reasons and raw is not None and raw.strip() != plan_json(expected):
        reasons.append("plan bytes are not the canonical JSON of the recomputed plan")
    return VerifyResult(ok=not reasons, reasons=reasons)


def _fmt(count: TierCount | None) -> str:
    if count is None:
        return "nothing"
    return f"registered={count.registered} due={count.due} selected={count.selected}"


def _diff_selections(got: Sequence[Selection], want: Sequence[Selection]) -> list[str]:
    reasons: list[str] = []
    got_ids = [s.enterprise_id for s in got]
    dupes = sorted({e for e in got_ids if got_ids.count(e) > 1})
    if dupes:
        reasons.append(f"enterprises selected more than once: {', '.join(dupes)}")
    got_by = {s.enterprise_id: s for s in got}
    want_by = {s.enterprise_id: s for s in want}
    extra = sorted(set(got_by) - set(want_by))
    missing = sorted(set(want_by) - set(got_by))
    if extra:
        reasons.append(f"selected but not drawn: {', '.join(extra)}")
    if missing:
        reasons.append(f"drawn but missing from the plan: {', '.join(missing)}")
    for eid in sorted(set(got_by) & set(want_by)):
        g, w = got_by[eid], want_by[eid]
        if g.tier != w.tier:
            reasons.append(f"{eid}: tier {g.tier!r} in the plan, {w.tier!r} in the register")
        if g.inspectors != w.inspectors:
            reasons.append(
                f"{eid}: inspectors {list(g.inspectors)} in the plan, "
                f"recomputed {list(w.inspectors)}"
            )
    if not reasons and [s.enterprise_id for s in got] != [s.enterprise_id for s in want]:
        reasons.append("selections are not in draw order")
    return reasons


# --- explicit I/O helpers ---------------------------------------------------------------------


def read_register_csv(path: Path) -> list[tuple[str, str]]:
    """CSV with a header containing ``enterprise_id`` and ``tier``."""
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        if reader.fieldnames is None or not {"enterprise_id", "tier"} <= set(reader.fieldnames):
            raise SpotcheckError(f"{path}: register CSV needs columns enterprise_id,tier")
        return [(row["enterprise_id"].strip(), row["tier"].strip()) for row in reader]


def read_inspectors(path: Path) -> list[str]:
    """One inspector id per line; blank lines and ``#`` comments ignored."""
    ids: list[str] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        text = line.split("#", 1)[0].strip()
        if text:
            ids.append(text)
    return ids


def plan_path(data_dir: Path, period: str) -> Path:
    parse_period(period)
    return data_dir / "spotcheck" / f"plan-{period}.json"


def store_plan(plan: Plan, data_dir: Path, *, overwrite: bool = False) -> Path:
    """Write the canonical bytes to ``<data_dir>/spotcheck/plan-YYYY-MM.json`` atomically.

    A published plan is not silently replaced: storing different bytes for a period that
    already has a plan raises ``FileExistsError`` unless ``overwrite``. Same bytes: no-op.
    """
    path = plan_path(data_dir, plan.period)
    data = plan_json(plan)
    if path.exists() and not overwrite:
        if path.read_bytes() == data:
            return path
        raise FileExistsError(f"{path} already holds a different plan for {plan.period}")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)
    return path


def load_plan(path: Path) -> Plan:
    return parse_plan(path.read_bytes())
