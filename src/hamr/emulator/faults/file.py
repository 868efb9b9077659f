"""`hamr serve --emulator --faults faults.yaml`: fault rules a team keeps in its repository,
in force from the first request. The file is a YAML (or JSON) list of rules as
`POST /_hamr/faults` takes them; any problem stops the start with one line naming it."""

from __future__ import annotations

from pathlib import Path

import yaml

from hamr.domain.errors import ValidationFailed
from hamr.emulator.faults.rules import FaultRules
from hamr.settings import SettingsError


def read_fault_file(path: str) -> object:
    """What the file holds (YAML, of which JSON is a part); an empty file holds no rules.
    Shared with `hamr fault add --file`."""
    try:
        loaded = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except OSError as error:
        raise SettingsError(f"cannot read the faults file {path}: {error.strerror}") from None
    except (yaml.YAMLError, UnicodeDecodeError) as error:
        raise SettingsError(f"the faults file {path} is not YAML or JSON: {error}") from None
    return [] if loaded is None else loaded


def load_fault_file(rules: FaultRules, path: str) -> int:
    """Add the file's rules, all or none; how many there were."""
    loaded = read_fault_file(path)
    if not isinstance(loaded, list):
        raise SettingsError(
            f"the faults file {path} must hold a list of fault rules (YAML `- status: 503`)"
        )
    try:
        return len(rules.add_all(loaded))
    except ValidationFailed as failed:
        problems = "; ".join(
            f"rule {_rule_number(v.pointer)}: {v.detail}" for v in failed.violations()
        )
        raise SettingsError(f"the faults file {path} has problems: {problems}") from None


def _rule_number(pointer: str | None) -> int:
    """`/2/status` is about the third rule, counted from 1 as people count."""
    return int((pointer or "/0").split("/")[1]) + 1
