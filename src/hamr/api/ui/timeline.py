"""The pair's status over time as an inline SVG step plot, rendered on the server: one lane per
status, labelled with its number and name (colour is never the only sign), each stretch of
a status a band in its lane, the last running to now. Okabe and Ito's colour-blind-safe
palette; a <title> and <desc> tell the same story in words."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from html import escape

from hamr.domain.model import HamrStatus

STATUS_COLOURS: Mapping[HamrStatus, str] = {
    HamrStatus.UNSPECIFIED: "#999999",
    HamrStatus.ONBOARDING: "#56B4E9",
    HamrStatus.PASSIVE: "#0072B2",
    HamrStatus.FAILOVER: "#D55E00",
    HamrStatus.ACTIVE: "#009E73",
    HamrStatus.RECOVERY: "#E69F00",
}
LABEL_WIDTH = 130
AXIS_HEIGHT = 28
TICKS = 4


@dataclass(frozen=True, slots=True)
class StatusChange:
    at_us: int  # when the pair entered `status`
    status: HamrStatus


@dataclass(frozen=True, slots=True)
class _Stretch:
    status: HamrStatus
    start_us: int
    end_us: int


def status_timeline(
    changes: Sequence[StatusChange], now_us: int, *, width: int = 800, height: int = 220
) -> str:
    """An inline <svg> plotting `changes` (in any order) up to `now_us`."""
    stretches = _stretches(changes, now_us)
    story = (
        ", then ".join(f"{status_label(s.status)} from {utc_text(s.start_us)}" for s in stretches)
        + " until now."
        if stretches
        else "No history yet."
    )
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="100%" '
        f'viewBox="0 0 {width} {height}" aria-labelledby="timeline-title timeline-desc" '
        f'font-family="sans-serif" font-size="13">',
        '<title id="timeline-title">Status over time</title>',
        f'<desc id="timeline-desc">{escape(story)}</desc>',
        f'<rect x="0" y="0" width="{width}" height="{height}" fill="#ffffff"/>',
    ]
    if not stretches:
        parts.append(f'<text x="{width / 2}" y="{height / 2}" text-anchor="middle" fill="#1a1a1a">')
        parts.append("No history yet</text></svg>")
        return "".join(parts)
    lanes = list(HamrStatus)
    lane_height = (height - AXIS_HEIGHT) / len(lanes)
    plot_width = width - LABEL_WIDTH - 10
    start, span = stretches[0].start_us, max(1, now_us - stretches[0].start_us)

    def x(at_us: int) -> float:
        return round(LABEL_WIDTH + plot_width * (at_us - start) / span, 2)

    for index, status in enumerate(lanes):
        top = index * lane_height
        parts.append(
            f'<line x1="{LABEL_WIDTH}" x2="{width - 10}" y1="{top + lane_height:.2f}" '
            f'y2="{top + lane_height:.2f}" stroke="#d0d0d0"/>'
            f'<text x="{LABEL_WIDTH - 8}" y="{top + lane_height / 2 + 4:.2f}" '
            f'text-anchor="end" fill="#1a1a1a">{escape(status_label(status))}</text>'
        )
    for stretch in stretches:
        top = lanes.index(stretch.status) * lane_height
        left, right = x(stretch.start_us), x(stretch.end_us)
        parts.append(
            f'<rect class="stretch" x="{left}" y="{top + 3:.2f}" '
            f'width="{max(right - left, 1):.2f}" height="{lane_height - 6:.2f}" '
            f'fill="{STATUS_COLOURS[stretch.status]}" stroke="#1a1a1a" stroke-width="0.5">'
            f"<title>{escape(status_label(stretch.status))} from "
            f"{utc_text(stretch.start_us)}</title>"
            "</rect>"
        )
    axis_y = height - AXIS_HEIGHT + 18
    for at, label in _ticks(start, span):
        anchor = "start" if at == start else "end" if at == start + span else "middle"
        parts.append(
            f'<text x="{x(at)}" y="{axis_y}" text-anchor="{anchor}" fill="#1a1a1a">{label}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _stretches(changes: Sequence[StatusChange], now_us: int) -> list[_Stretch]:
    """Each run of one status (repeats merged), from when it began to the next change."""
    ordered = sorted(changes, key=lambda change: change.at_us)
    starts: list[StatusChange] = []
    for change in ordered:
        if not starts or starts[-1].status is not change.status:
            starts.append(change)
    if not starts:
        return []
    ends = [change.at_us for change in starts[1:]] + [max(now_us, starts[-1].at_us)]
    return [_Stretch(c.status, c.at_us, end) for c, end in zip(starts, ends, strict=True)]


def status_label(status: HamrStatus) -> str:
    """`2 PASSIVE`: how the page names a status, here and in its text."""
    return f"{int(status)} {status.name}"


def utc_text(at_us: int) -> str:
    """`2026-12-02 08:27:00 UTC`: how the page writes a time."""
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(at_us // 1_000_000))


# Tick label shapes, coarsest first; ".ms" adds milliseconds, which strftime cannot write.
_SHAPES = ("%m-%d %H:%M", "%H:%M", "%H:%M:%S", "%H:%M:%S.ms")


def _ticks(start_us: int, span_us: int) -> list[tuple[int, str]]:
    """The axis's ticks and their labels, no label twice: the span picks the shape, made finer
    while two ticks would read the same (a span of a few seconds gave 07:38:09 twice); past
    milliseconds, a tick that reads as its neighbour is left out."""
    at = [start_us + span_us * tick // TICKS for tick in range(TICKS + 1)]
    coarsest = 0 if span_us >= 86_400_000_000 else 1 if span_us >= 3_600_000_000 else 2
    for shape in _SHAPES[coarsest:]:
        labels = [_tick(tick_us, shape) for tick_us in at]
        if len(set(labels)) == len(labels):
            break
    kept: dict[str, int] = {}
    for tick_us, label in zip(at, labels, strict=True):
        kept.setdefault(label, tick_us)
    return [(tick_us, label) for label, tick_us in kept.items()]


def _tick(at_us: int, shape: str) -> str:
    text = time.strftime(shape.removesuffix(".ms"), time.gmtime(at_us // 1_000_000))
    return f"{text}.{at_us // 1000 % 1000:03d}" if shape.endswith(".ms") else text
