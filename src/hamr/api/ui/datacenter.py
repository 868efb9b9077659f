"""The pair page's datacenter summary, for admin visitors: how many pairs whose primary side
is in the visitor's pair's primary datacenter have each status, and how far a datacenter
operation running there got (the page refreshes itself while it runs)."""

from __future__ import annotations

from dataclasses import dataclass

from hamr.api.state import AppState
from hamr.domain.datacenter_jobs import DatacenterJob, primary_side
from hamr.domain.model import HamrStatus, Link


@dataclass(frozen=True, slots=True)
class DatacenterSummary:
    name: str
    counts: tuple[tuple[HamrStatus, int], ...]
    job: DatacenterJob | None

    @property
    def total(self) -> int:
        return sum(count for _, count in self.counts)


async def datacenter_summary(state: AppState, link: Link) -> DatacenterSummary:
    operations = state.service.datacenter_operations
    name = primary_side(link).datacenter
    counts = await state.reads(operations.counts, name)
    job = await state.reads(operations.running)
    return DatacenterSummary(
        name,
        tuple((status, counts.get(status, 0)) for status in HamrStatus),
        job if job is not None and job.datacenter == name else None,
    )
