"""The status timeline's SVG, parsed: well-formed, told in words, one band per run of a
status (repeats merged), bands as wide as their time, every status's lane labelled."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest

from hamr.api.ui.timeline import STATUS_COLOURS, StatusChange, status_timeline
from hamr.domain.model import HamrStatus as S

SVG = "{http://www.w3.org/2000/svg}"
T0 = 1_780_000_000_000_000  # microseconds


def parsed(svg: str) -> ET.Element:
    return ET.fromstring(svg)  # noqa: S314 (our own output)


def bands(root: ET.Element) -> list[ET.Element]:
    return [rect for rect in root.iter(f"{SVG}rect") if rect.get("class") == "stretch"]


def test_one_band_per_run_as_wide_as_its_time() -> None:
    changes = [
        StatusChange(T0 + 60_000_000, S.FAILOVER),
        StatusChange(T0, S.PASSIVE),  # out of order: sorted
        StatusChange(T0 + 90_000_000, S.FAILOVER),  # a repeat: merged
    ]
    root = parsed(status_timeline(changes, T0 + 240_000_000))
    found = bands(root)
    assert [band.get("fill") for band in found] == [
        STATUS_COLOURS[S.PASSIVE],
        STATUS_COLOURS[S.FAILOVER],
    ]
    widths = [float(band.get("width", "0")) for band in found]
    assert abs(widths[1] / widths[0] - 3.0) < 0.02  # 60 s, then 180 s
    titles = [band.findtext(f"{SVG}title") for band in found]
    assert titles[0] is not None
    assert titles[0].startswith("2 PASSIVE from ")
    desc = root.findtext(f"{SVG}desc") or ""
    assert desc.index("2 PASSIVE") < desc.index("3 FAILOVER")
    assert desc.endswith("until now.")
    assert root.get("role") == "img"
    labels = [text.text for text in root.iter(f"{SVG}text")]
    assert all(f"{int(status)} {status.name}" in labels for status in S)


def test_no_history_and_no_time_span() -> None:
    empty = parsed(status_timeline([], T0))
    assert "No history yet" in (empty.findtext(f"{SVG}desc") or "")
    assert bands(empty) == []
    instant = parsed(status_timeline([StatusChange(T0, S.ACTIVE)], T0))
    assert len(bands(instant)) == 1


def test_the_palette_tells_every_status_apart() -> None:
    assert set(STATUS_COLOURS) == set(S)
    assert len(set(STATUS_COLOURS.values())) == len(S)


def axis_labels(root: ET.Element) -> list[str]:
    """The tick labels under the plot (the lanes' labels name a status)."""
    lanes = {f"{int(status)} {status.name}" for status in S}
    texts = [text.text or "" for text in root.iter(f"{SVG}text")]
    return [text for text in texts if text not in lanes]


@pytest.mark.parametrize(
    ("span_us", "shape"),
    [
        (2 * 86_400_000_000, r"\d\d-\d\d \d\d:\d\d"),
        (2 * 3_600_000_000, r"\d\d:\d\d"),
        (600_000_000, r"\d\d:\d\d:\d\d"),
        (2_000_000, r"\d\d:\d\d:\d\d\.\d{3}"),  # a drill of seconds: 07:38:09 twice, before
        (2_000, r"\d\d:\d\d:\d\d\.\d{3}"),  # too short for milliseconds: fewer ticks
    ],
)
def test_no_tick_label_is_repeated(span_us: int, shape: str) -> None:
    changes = [StatusChange(T0 + 123_456, S.FAILOVER)]
    labels = axis_labels(parsed(status_timeline(changes, T0 + 123_456 + span_us)))
    assert len(labels) == len(set(labels)), labels
    assert len(labels) >= 2, labels
    assert all(re.fullmatch(shape, label) for label in labels), labels
