"""One-sentence explanations of findings, in English and Chinese, for regulators."""

from __future__ import annotations

from typing import Any

from schemas.types import RuleId

PATH_NAMES: dict[str, tuple[str, str]] = {
    "security_assessment": ("a CAC security assessment", "数据出境安全评估"),
    "contract_or_certification": (
        "a filed standard contract or a personal-information protection certification",
        "个人信息出境标准合同备案或个人信息保护认证",
    ),
    "exempt_non_personal": ("no procedure (non-personal data)", "无需申报（非个人信息）"),
    "exempt_purpose": ("no procedure (exempt purpose)", "无需申报（豁免情形）"),
    "exempt_negative_list": ("no procedure (not on the negative list)", "无需申报（负面清单外）"),
    "exempt_small_volume": ("no procedure (small volume)", "无需申报（数量未达门槛）"),
}
SCOPE_NAMES: dict[str, tuple[str, str]] = {
    "recipient": ("recipient", "境外接收方"),
    "country": ("destination country", "目的国家或地区"),
    "category": ("data categories", "数据类别"),
    "purpose": ("purpose", "出境目的"),
}
MEASURE_NAMES: dict[str, tuple[str, str]] = {
    "subjects": ("individuals' personal information", "人个人信息"),
    "sensitive_subjects": ("individuals' sensitive personal information", "人敏感个人信息"),
}

_TEMPLATES: dict[RuleId, tuple[str, str]] = {
    "XB-PATH-MISSING": (
        "Transfer {transfer_id} by {enterprise_id} to {recipient} ({country}) requires {path_en}"
        ", but the enterprise holds no valid filing for it.",
        "{enterprise_id}向{country}的{recipient}出境数据（{transfer_id}）应当通过{path_zh}，"
        "但该企业未持有有效的相应手续。",
    ),
    "XB-PATH-INSUFFICIENT": (
        "Transfer {transfer_id} by {enterprise_id} requires {path_en}, but the enterprise holds "
        "only a weaker filing ({filings}).",
        "{enterprise_id}的出境数据（{transfer_id}）应当通过{path_zh}，但该企业仅持有较低层级的手续"
        "（{filings}）。",
    ),
    "XB-NEGLIST-HIT": (
        "Transfer {transfer_id} by {enterprise_id} carries data on negative-list item {items}, "
        "which requires {path_en}, and no valid filing of that kind is held.",
        "{enterprise_id}的出境数据（{transfer_id}）属于负面清单事项{items}，应当通过{path_zh}，"
        "但未持有有效的相应手续。",
    ),
    "XB-FILING-EXPIRED": (
        "Transfer {transfer_id} by {enterprise_id} relies on filing {filings}, which had expired "
        "before the transfer; {path_en} is required.",
        "{enterprise_id}的出境数据（{transfer_id}）所依据的手续{filings}在出境前已过有效期，"
        "应当通过{path_zh}。",
    ),
    "XB-FILING-REVOKED": (
        "Transfer {transfer_id} by {enterprise_id} took place after filing {filings} was "
        "revoked; {path_en} is required.",
        "{enterprise_id}的出境数据（{transfer_id}）发生在手续{filings}被撤销之后，"
        "应当通过{path_zh}。",
    ),
    "XB-SCOPE-RECIPIENT": (
        "Transfer {transfer_id} by {enterprise_id} goes to {recipient}, a recipient not covered "
        "by filing {filings}.",
        "{enterprise_id}的出境数据（{transfer_id}）的境外接收方{recipient}不在手续{filings}的范围内。",
    ),
    "XB-SCOPE-COUNTRY": (
        "Transfer {transfer_id} by {enterprise_id} goes to {country}, a destination not covered "
        "by filing {filings}.",
        "{enterprise_id}的出境数据（{transfer_id}）的目的地{country}不在手续{filings}的范围内。",
    ),
    "XB-SCOPE-CATEGORY": (
        "Transfer {transfer_id} by {enterprise_id} carries data categories ({categories}) not "
        "all covered by filing {filings}.",
        "{enterprise_id}的出境数据（{transfer_id}）的数据类别（{categories}）未全部包含在手续"
        "{filings}的范围内。",
    ),
    "XB-SCOPE-PURPOSE": (
        "Transfer {transfer_id} by {enterprise_id} has purpose {purpose}, not covered by filing "
        "{filings}.",
        "{enterprise_id}的出境数据（{transfer_id}）的目的（{purpose}）不在手续{filings}的范围内。",
    ),
    "XB-VOLUME-EXCEEDED": (
        "Transfer {transfer_id} by {enterprise_id} brings the individuals under filing "
        "{filings} to {used:,}, above its approved {limit:,} for the year.",
        "{enterprise_id}的出境数据（{transfer_id}）使手续{filings}本年度涉及的个人数量达到{used:,}，"
        "超过核准的{limit:,}。",
    ),
    "XB-THRESHOLD-CROSSED": (
        "Transfer {transfer_id} brings {enterprise_id}'s exports this year to {total:,} "
        "{measure_en}, reaching the {threshold:,} threshold.",
        "{enterprise_id}的出境数据（{transfer_id}）使其本年度累计向境外提供{total:,}{measure_zh}，"
        "达到{threshold:,}人的门槛。",
    ),
    "XB-DECLARED-BASIS-INVALID": (
        "Transfer {transfer_id} by {enterprise_id} declares legal basis {legal_basis} with "
        "filing reference {filing_ref}, which does not match the filings held ({reasons}).",
        "{enterprise_id}的出境数据（{transfer_id}）申报的合法性依据{legal_basis}及手续编号"
        "{filing_ref}与实际持有的手续不符（{reasons}）。",
    ),
    "XB-UNDECLARED-EGRESS": (
        "{enterprise_id} sent {observed:,} bytes to {country} in the window from {window}, but "
        "declared only {declared:,} bytes.",
        "{enterprise_id}在{window}起的时间窗口内向{country}实际发送{observed:,}字节，"
        "但仅申报{declared:,}字节。",
    ),
    "XB-DLP-MISMATCH": (
        "Data loss prevention sensors saw {categories} leaving {enterprise_id} for {country} in "
        "the window from {window}, which no transfer log of that window declares.",
        "数据防泄漏探针发现{enterprise_id}在{window}起的时间窗口内向{country}发送{categories}类数据，"
        "但该窗口内无相应的出境申报。",
    ),
    "XB-LATE-DECLARATION": (
        "Transfer {transfer_id} by {enterprise_id} was declared {delay_hours:.1f} hours after "
        "it took place, later than the {deadline_hours:g}-hour deadline.",
        "{enterprise_id}的出境数据（{transfer_id}）在发生{delay_hours:.1f}小时后才申报，"
        "超过{deadline_hours:g}小时的申报时限。",
    ),
    "XB-FILING-EXPIRING": (
        "Filing {filings} of {enterprise_id}, relied on by transfer {transfer_id}, expires on "
        "{end}; renewal should be requested in time.",
        "{enterprise_id}的手续{filings}（出境数据{transfer_id}所依据）将于{end}到期，应及时申请延续。",
    ),
}


def explain(rule_id: RuleId, context: dict[str, Any]) -> tuple[str, str]:
    """The English and Chinese sentences for a finding, filled from `context`."""
    english, chinese = _TEMPLATES[rule_id]
    path = context.get("path")
    path_en, path_zh = PATH_NAMES.get(path, ("", "")) if isinstance(path, str) else ("", "")
    measure_en, measure_zh = MEASURE_NAMES.get(str(context.get("measure")), ("", ""))
    values = {
        "path_en": path_en,
        "path_zh": path_zh,
        "measure_en": measure_en,
        "measure_zh": measure_zh,
        **context,
    }
    return english.format_map(values), chinese.format_map(values)
