"""The emulator's use cases, for test suites: start over (empty, or the demo pair with fresh
keys, and no fault rules), move the clock, and save and restore everything stored as one
document. Only `hamr serve --emulator` builds one."""

from __future__ import annotations

import json
import logging
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal

import pydantic
import pydantic_core
from pydantic import BaseModel, ConfigDict, model_validator

from hamr.api.pydantic_errors import BodyRules, violations
from hamr.domain.errors import ValidationFailed, Violation
from hamr.emulator.clock import VirtualClock
from hamr.emulator.faults.rules import FaultRules
from hamr.settings import SettingsError
from hamr.usecases.demo import DemoOrg, ensure_demo
from hamr.usecases.service import HamrService

logger = logging.getLogger(__name__)


STATE_TYPE = "hamr_emulator_state"
STATE_ID = "state"
_ATTRIBUTES = "/data/attributes"
_SHAPE = (
    f'Send the document GET /_hamr/state gives: {{"data": {{"type": "{STATE_TYPE}", '
    f'"id": "{STATE_ID}", "attributes": {{...}}}}}}.'
)


class Seed(StrEnum):
    EMPTY = "empty"
    DEMO = "demo"


class Emulator:
    def __init__(self, service: HamrService, clock: VirtualClock, faults: FaultRules):
        self.service = service
        self.clock = clock
        self.faults = faults

    def reset(self, seed: Seed) -> list[DemoOrg]:
        """Clear the fault rules and delete everything stored, then seed it; the demo pair's
        keys are returned (each reset issues new ones). Blocking: call from a worker thread."""
        self.faults.clear()
        self.service.wipe()
        seeded = ensure_demo(self.service) if seed is Seed.DEMO else []
        logger.info("emulator reset", extra={"seed": seed.value})
        return seeded

    def state(self) -> dict[str, Any]:
        """Everything stored, as the document `GET /_hamr/state` answers and load_state takes
        back. Blocking: call from a worker thread."""
        attributes = self.service.dump_state()
        return {"data": {"type": STATE_TYPE, "id": STATE_ID, "attributes": attributes}}

    def load_state(self, document: object) -> None:
        """Make the database hold exactly what a document state() gave says; anything else is
        ValidationFailed (pointers into the document) and changes nothing. Blocking."""
        attributes = _attributes(document)
        try:
            self.service.load_state(attributes)
        except ValidationFailed as error:  # its pointers are into the attributes
            raise ValidationFailed(
                [Violation(_ATTRIBUTES + (v.pointer or ""), v.detail) for v in error.violations()]
            ) from None
        logger.info("emulator state loaded")

    def load_state_file(self, path: Path) -> None:
        """load_state from a file holding the document (`hamr serve --emulator --state FILE`),
        or SettingsError saying in one sentence what is wrong with the file."""
        try:
            document = pydantic_core.from_json(path.read_bytes(), allow_inf_nan=False)
        except FileNotFoundError:
            raise SettingsError(f"the state file {path} does not exist") from None
        except OSError as error:
            raise SettingsError(f"the state file {path} cannot be read: {error.strerror}") from None
        except ValueError as error:
            raise SettingsError(f"the state file {path} is not JSON: {error}") from None
        try:
            self.load_state(document)
        except ValidationFailed as error:
            first, *more = error.violations()
            where = first.pointer or "the top"
            others = f" (and {len(more)} more problems)" if more else ""
            raise SettingsError(
                f"the state file {path} is not a state GET /_hamr/state gave: at {where}, "
                f"{first.detail.rstrip('.')}{others}"
            ) from None


def _exactly(names: set[str], value: object) -> object:
    """`value` if it is an object of exactly these members; the envelope has no optional ones."""
    if not isinstance(value, dict) or set(value) != names:
        raise ValueError(_SHAPE)
    return value


class _StateData(BaseModel):
    model_config = ConfigDict(strict=True, frozen=True)

    type: Literal["hamr_emulator_state"]  # STATE_TYPE
    id: Literal["state"]  # STATE_ID
    attributes: dict[str, Any]

    @model_validator(mode="before")
    @classmethod
    def _members(cls, value: object) -> object:
        return _exactly({"type", "id", "attributes"}, value)


class _StateDocument(BaseModel):
    """The envelope GET /_hamr/state puts the state in."""

    model_config = ConfigDict(strict=True, frozen=True)

    data: _StateData

    @model_validator(mode="before")
    @classmethod
    def _members(cls, value: object) -> object:
        return _exactly({"data"}, value)


_STATE_RULES = BodyRules(
    body=_SHAPE,
    fields={
        "/data/type": f"type must be {json.dumps(STATE_TYPE)}.",
        "/data/id": f"id must be {json.dumps(STATE_ID)}.",
        _ATTRIBUTES: "attributes must be an object: the state.",
    },
    unknown=_SHAPE,
)


def _attributes(document: object) -> dict[str, Any]:
    """The state in a document's envelope, or ValidationFailed saying where the envelope is
    not the one GET /_hamr/state gives."""
    try:
        return _StateDocument.model_validate(document).data.attributes
    except pydantic.ValidationError as error:
        raise ValidationFailed(violations(error, _STATE_RULES)) from None
