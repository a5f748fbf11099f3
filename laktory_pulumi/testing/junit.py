"""The outcomes as JUnit XML, the report CI systems read (one suite per pipeline)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from .execute import Outcome


def junit_xml(outcomes: list[Outcome]) -> bytes:
    """`<testsuites>` of one `<testsuite>` per pipeline, one `<testcase>` per test; a failed
    test has a `<failure>`, a test that could not run an `<error>`, each with the test's lines."""
    root = ET.Element("testsuites", name="laktory-pulumi test")
    _count(root, outcomes)
    for pipeline in dict.fromkeys(outcome.pipeline for outcome in outcomes):
        mine = [outcome for outcome in outcomes if outcome.pipeline == pipeline]
        suite = ET.SubElement(root, "testsuite", name=pipeline)
        _count(suite, mine)
        for outcome in mine:
            file, line = _file_and_line(outcome.location)
            case = ET.SubElement(
                suite,
                "testcase",
                name=outcome.test.name,
                classname=f"{pipeline}.{outcome.test.table}",
                file=file,
                line=line,
                time=f"{outcome.seconds:.3f}",
            )
            if outcome.status != "passed":
                kind = "failure" if outcome.status == "failed" else "error"
                element = ET.SubElement(
                    case,
                    kind,
                    message=f"{outcome.location}: {outcome.lines[0] if outcome.lines else kind}",
                    type=kind,
                )
                element.text = "\n".join([outcome.location, *outcome.lines])
    ET.indent(root)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True) + b"\n"


def write_junit(path: Path, outcomes: list[Outcome]) -> None:
    """Write through a temporary file: a reader never sees half a report."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.write_bytes(junit_xml(outcomes))
    partial.replace(path)


def _count(element: ET.Element, outcomes: list[Outcome]) -> None:
    element.set("tests", str(len(outcomes)))
    element.set("failures", str(sum(o.status == "failed" for o in outcomes)))
    element.set("errors", str(sum(o.status == "error" for o in outcomes)))
    element.set("time", f"{sum(o.seconds for o in outcomes):.3f}")


def _file_and_line(location: str) -> tuple[str, str]:
    """`file:line:column` -> (file, line)."""
    parts = location.rsplit(":", 2)
    return (parts[0], parts[1]) if len(parts) == 3 else (location, "1")
