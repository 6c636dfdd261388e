"""Check the Bicep templates offline with Checkov; run by `make infra-check` in `.venv-infra`.

No Bicep compiler installs on these machines, so Checkov (its Bicep parser is `pycep`) is the
check. It fails when:

- any template does not parse, or parses into fewer resources, parameters or modules than the
  text declares (Checkov reports a file it cannot parse only as a count, and `pycep` drops what it
  does not understand, so a file could otherwise pass unseen);
- Checkov reports a parsing error, finds no resources, or fails a check;
- a check is skipped without a written reason (`// checkov:skip=CKV_AZURE_xx: why`), or a
  written skip matches no check Checkov ran (a stale skip would read as a decision nobody made).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

from pycep import BicepParser

INFRA = Path(__file__).resolve().parent
CHECKOV = Path(sys.executable).with_name("checkov")

#: Declarations as written; nested child resources (`resource x 'config' = {`) count too.
_DECLARED = {
    "resources": re.compile(r"^\s*resource\s+(\w+)\s+'", re.MULTILINE),
    "parameters": re.compile(r"^param\s+(\w+)\s", re.MULTILINE),
    "modules": re.compile(r"^module\s+(\w+)\s+'", re.MULTILINE),
}
_SKIP = re.compile(r"//\s*checkov:skip=(CKV2?_[A-Z]+_\d+)(?::(.*))?$", re.MULTILINE)
#: A reason says why, in words; "n/a" or "false positive" alone does not.
_MIN_REASON_WORDS = 5


def parse_templates(files: list[Path]) -> list[str]:
    """Problems found by parsing each template the way Checkov does."""
    problems: list[str] = []
    for path in files:
        text = path.read_text(encoding="utf-8")
        try:
            template: dict[str, Any] = BicepParser().parse(text=text)
        except Exception as exc:
            problems.append(f"{path.relative_to(INFRA)}: does not parse: {exc}")
            continue
        for section, pattern in _DECLARED.items():
            declared = set(pattern.findall(text))
            parsed = {name.split("__")[-1] for name in template.get(section) or {}}
            missing = declared - parsed
            if missing:
                problems.append(
                    f"{path.relative_to(INFRA)}: {section} declared but not parsed: "
                    f"{', '.join(sorted(missing))}"
                )
    return problems


def skip_reasons(files: list[Path], report: dict[str, Any]) -> list[str]:
    """Problems with the written skips: each needs a reason of a few words, and a check that
    Checkov really skipped in that file because of it."""
    applied = {
        (check["file_path"].lstrip("/"), check["check_id"])
        for check in (report.get("results") or {}).get("skipped_checks") or []
    }
    problems: list[str] = []
    for path in files:
        name = path.relative_to(INFRA).as_posix()
        for match in _SKIP.finditer(path.read_text(encoding="utf-8")):
            reason = (match.group(2) or "").strip()
            if len(reason.split()) < _MIN_REASON_WORDS:
                problems.append(f"{name}: {match.group(1)} is skipped without a reason")
            if report and (name, match.group(1)) not in applied:
                problems.append(f"{name}: the skip of {match.group(1)} matches no check")
    return problems


def run_checkov() -> tuple[dict[str, Any], list[str]]:
    """Checkov's JSON report of the folder, and the problems in it."""
    done = subprocess.run(
        [
            str(CHECKOV),
            "--directory",
            str(INFRA),
            "--framework",
            "bicep",
            # Offline: no calls to the vendor's platform for guidelines or policies.
            "--skip-download",
            "--output",
            "json",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    try:
        report: dict[str, Any] = json.loads(done.stdout)
    except json.JSONDecodeError:
        return {}, [f"checkov gave no JSON report (exit {done.returncode}): {done.stderr[-2000:]}"]
    problems: list[str] = []
    summary = report.get("summary") or {}
    results = report.get("results") or {}
    if summary.get("parsing_errors") or results.get("parsing_errors"):
        problems.append(f"checkov could not parse: {results.get('parsing_errors')}")
    if not summary.get("resource_count"):
        problems.append("checkov found no resources: the templates were not read")
    for check in results.get("failed_checks") or []:
        problems.append(
            f"{check['file_path']}:{check['file_line_range'][0]} {check['resource']}: "
            f"{check['check_id']} {check['check_name']}"
        )
    for check in results.get("skipped_checks") or []:
        reason = ((check.get("check_result") or {}).get("suppress_comment") or "").strip()
        if not reason:
            problems.append(f"{check['resource']}: {check['check_id']} skipped without a reason")
    return report, problems


def main() -> int:
    files = sorted(INFRA.rglob("*.bicep"))
    if not files:
        print("infra check: no Bicep templates under infra/", file=sys.stderr)
        return 1
    report, checkov_problems = run_checkov()
    problems = parse_templates(files) + checkov_problems + skip_reasons(files, report)
    summary = report.get("summary") or {}
    print(
        f"infra check: {len(files)} templates, {summary.get('resource_count', 0)} resources; "
        f"checkov {summary.get('checkov_version', '?')}: {summary.get('passed', 0)} passed, "
        f"{summary.get('failed', 0)} failed, {summary.get('skipped', 0)} skipped with a reason"
    )
    for problem in problems:
        print(f"  {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
