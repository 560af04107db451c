"""`xbmon evidence seal/show/verify/verify-proof/audit/public-key` on a real chDB store."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path

from typer.testing import CliRunner

from pipeline.cli import app
from pipeline.rules.findings import EvaluatedFinding
from pipeline.storage import EvidenceStore

runner = CliRunner()
StoreFindings = Callable[[EvidenceStore, Sequence[EvaluatedFinding], str], None]


def xbmon(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_seal_show_verify_audit_and_a_regulators_offline_check(
    tmp_path: Path,
    store: EvidenceStore,
    engine_findings: list[EvaluatedFinding],
    store_findings: StoreFindings,
) -> None:
    data_dir = str(tmp_path)
    store_findings(store, engine_findings[:15], "b1")
    code, _, err = xbmon("evidence", "seal", "--data-dir", data_dir)
    assert code == 0 and "appended 15 leaves; tree size 15" in err
    target = engine_findings[9].finding

    code, out, _ = xbmon("evidence", "show", target.finding_id, "--json", "--data-dir", data_dir)
    assert code == 0
    document = json.loads(out)
    assert document["finding"]["finding_id"] == target.finding_id
    assert json.loads(document["bundle"]) == engine_findings[9].bundle
    assert 0 <= document["leaf"]["index"] < 15 and document["tree_head"]["tree_size"] == 15
    assert len(document["inclusion_proof"]) == 4  # a tree of 15 leaves is 4 levels deep
    code, out, _ = xbmon("evidence", "show", target.finding_id, "--data-dir", data_dir)
    assert code == 0 and f"leaf index {document['leaf']['index']}" in out

    code, _, err = xbmon("evidence", "verify", target.finding_id, "--data-dir", data_dir)
    assert code == 0 and "verified" in err and "FAILED" not in err
    code, _, err = xbmon("evidence", "audit", "--data-dir", data_dir)
    assert code == 0 and "the log is intact" in err and "15 leaves, 15 findings" in err
    code, head, _ = xbmon("evidence", "head", "--data-dir", data_dir)
    assert code == 0 and json.loads(head)["tree_size"] == 15
    (tmp_path / "head.json").write_text(head)
    store_findings(store, engine_findings[15:18], "b2")
    assert xbmon("evidence", "seal", "--data-dir", data_dir)[0] == 0
    code, _, err = xbmon(
        "evidence", "audit", "--trusted-head", str(tmp_path / "head.json"), "--data-dir", data_dir
    )
    assert code == 0 and "18 leaves" in err

    # A regulator: the public key once, then proof documents checked without the store.
    code, pem, _ = xbmon("evidence", "public-key", "--data-dir", data_dir)
    assert code == 0 and pem.startswith("-----BEGIN PUBLIC KEY-----")
    (tmp_path / "log.pub").write_text(pem)
    (tmp_path / "proof.json").write_text(json.dumps(document))
    public = ["--public-key", str(tmp_path / "log.pub")]
    code, _, err = xbmon("evidence", "verify-proof", str(tmp_path / "proof.json"), *public)
    assert code == 0 and "verified" in err
    document["finding"]["severity"] = "info"
    (tmp_path / "forged.json").write_text(json.dumps(document))
    code, _, err = xbmon("evidence", "verify-proof", str(tmp_path / "forged.json"), *public)
    assert code == 1 and "FAILED leaf" in err


def test_failures_exit_non_zero_and_say_what_failed(
    tmp_path: Path,
    store: EvidenceStore,
    engine_findings: list[EvaluatedFinding],
    store_findings: StoreFindings,
) -> None:
    data_dir = str(tmp_path)
    store_findings(store, engine_findings[:6], "b1")
    assert xbmon("evidence", "seal", "--data-dir", data_dir)[0] == 0
    store_findings(store, engine_findings[6:7], "b2")  # stored, not sealed yet
    unsealed = engine_findings[6].finding.finding_id

    code, _, err = xbmon("evidence", "verify", "no-such-finding", "--data-dir", data_dir)
    assert code == 1 and "no stored finding no-such-finding" in err
    code, _, err = xbmon("evidence", "show", unsealed, "--data-dir", data_dir)
    assert code == 1 and "not in the evidence log yet" in err
    code, out, err = xbmon("evidence", "audit", "--json", "--data-dir", data_dir)
    assert code == 1 and json.loads(out)["ok"] is False and unsealed in out

    assert xbmon("evidence", "seal", "--data-dir", data_dir)[0] == 0
    target = engine_findings[2].finding.finding_id
    store.query(
        "ALTER TABLE {database:Identifier}.findings UPDATE explanation = 'all fine' "
        "WHERE finding_id = {id:String} SETTINGS mutations_sync = 1",
        {"id": target},
    )
    code, _, err = xbmon("evidence", "verify", target, "--data-dir", data_dir)
    assert code == 1 and "ok bundle" in err and "FAILED leaf" in err and "verified" not in err
    code, _, err = xbmon("evidence", "audit", "--data-dir", data_dir)
    assert code == 1 and f"finding {target} was changed after it was sealed" in err

    # Tree heads checked with somebody else's key are refused.
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from pipeline.evidence_log.signing import public_key_pem

    (tmp_path / "other.pub").write_bytes(public_key_pem(Ed25519PrivateKey.generate().public_key()))
    other = ["--public-key", str(tmp_path / "other.pub")]
    code, _, err = xbmon("evidence", "verify", unsealed, *other, "--data-dir", data_dir)
    assert code == 1 and "FAILED signature" in err


def test_malformed_log_rows_are_reported_not_crashed_on(
    tmp_path: Path,
    store: EvidenceStore,
    engine_findings: list[EvaluatedFinding],
    store_findings: StoreFindings,
) -> None:
    data_dir = str(tmp_path)
    store_findings(store, engine_findings[:5], "b1")
    assert xbmon("evidence", "seal", "--data-dir", data_dir)[0] == 0
    store.query(
        "ALTER TABLE {database:Identifier}.evidence_leaves UPDATE leaf_hash = 'zz' "
        "WHERE leaf_index = 1 SETTINGS mutations_sync = 1"
    )
    code, _, err = xbmon("evidence", "audit", "--data-dir", data_dir)
    assert code == 1 and "leaf 1: the stored leaf hash is not a SHA-256" in err
    store.query(
        "ALTER TABLE {database:Identifier}.tree_heads UPDATE signature = '%%%' "
        "WHERE 1 SETTINGS mutations_sync = 1"
    )
    code, _, err = xbmon("evidence", "audit", "--data-dir", data_dir)
    assert code == 1 and "tree head 5 is malformed" in err and "Traceback" not in err
    code, _, err = xbmon("evidence", "seal", "--data-dir", data_dir)
    assert code == 1 and "tree head 5 is malformed" in err
