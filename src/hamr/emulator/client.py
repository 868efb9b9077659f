"""The one client of a running emulator's admin API under /_hamr/ (fault rules, clock, reset,
state and a pair's status), for `hamr fault`, hamr.testing and the tests. Whatever can go wrong
from the caller's side (a refused body, a wrong token, nothing listening, a server that is no
emulator) becomes an AdminApiError of one line per problem, which the CLI shows as it shows
every operator's mistake."""

from __future__ import annotations

from types import TracebackType
from typing import Any, Self
from urllib.parse import quote

import httpx

from hamr.api.responses import JSON
from hamr.emulator.admin_auth import ADMIN_HEADER
from hamr.emulator.faults.routes import FAULTS_PATH
from hamr.emulator.pair_admin import PAIR_ADMIN_PATH
from hamr.emulator.routes import CLOCK_PATH, RESET_PATH, STATE_PATH

TIMEOUT_SECONDS = 30


class AdminApiError(Exception):
    """The admin API refused, or could not be reached; the message says why, in one line a
    problem."""


class EmulatorAdmin:
    """The emulator at `url`, as the holder of its admin token. Fault rules come as flat
    documents: their `id`, the rule as the server keeps it, and how often it `fired`."""

    def __init__(self, url: str, admin_token: str):
        self.url = url
        self._client = httpx.Client(
            base_url=url, headers={ADMIN_HEADER: admin_token}, timeout=TIMEOUT_SECONDS
        )

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def rules(self) -> list[dict[str, Any]]:
        return [_flat(resource) for resource in self._call("GET", FAULTS_PATH).json()["data"]]

    def add(self, sent: object) -> list[dict[str, Any]]:
        """Put one rule, or a list of them (all or none), in force; the rules as added."""
        data = self._call("POST", FAULTS_PATH, sent).json()["data"]
        return [_flat(resource) for resource in (data if isinstance(data, list) else [data])]

    def clear(self) -> int:
        """Remove every rule; how many there were."""
        return int(self._call("DELETE", FAULTS_PATH).json()["meta"]["cleared"])

    def remove(self, rule_id: str) -> None:
        answer = self._send("DELETE", f"{FAULTS_PATH}/{quote(rule_id, safe='')}")
        if answer.status_code == 404:
            self.rules()  # a server that is no emulator says so here
            raise AdminApiError("; ".join(_details(answer)) or f"there is no fault rule {rule_id}")
        self._check(answer, FAULTS_PATH)

    def reset(self, seed: str) -> dict[str, Any]:
        """Start over: nothing stored and no rules, then the `seed` ("empty", or "demo" for the
        demo pair with fresh keys); the seed and the orgs it made, with their keys."""
        return _attributes(self._call("POST", RESET_PATH, {"seed": seed}))

    def clock(self, **move: object) -> dict[str, Any]:
        """What time the emulator believes it is (`now`, `offset_seconds`, `real`), after moving
        it as `move` says, if it says (one of advance_seconds=N, set="<RFC 3339>", real=True)."""
        if move:
            return _attributes(self._call("POST", CLOCK_PATH, move))
        return _attributes(self._call("GET", CLOCK_PATH))

    def move_pair(self, status: int | str, primary: str) -> dict[str, Any]:
        """Put the pair of org `primary` (a UUID) at `status` (a number or name) with that org
        primary, outside the lifecycle, as the emulator's doing; the pair's document."""
        answer = self._send("POST", PAIR_ADMIN_PATH, json={"status": status, "primary": primary})
        if answer.status_code == 404:
            self.rules()  # a server that is no emulator says so here
            raise AdminApiError("; ".join(_details(answer)) or f"there is no org {primary}")
        document: dict[str, Any] = self._check(answer, PAIR_ADMIN_PATH).json()
        return document

    def state(self) -> bytes:
        """Everything stored, as one document, in the bytes load_state takes back."""
        return self._call("GET", STATE_PATH).content

    def load_state(self, document: bytes) -> None:
        """Make the emulator hold exactly the state `document` (as state() gave it) says."""
        self._check(
            self._send("PUT", STATE_PATH, content=document, headers={"Content-Type": JSON}),
            STATE_PATH,
        )

    def _call(self, method: str, path: str, body: object = None) -> httpx.Response:
        return self._check(self._send(method, path, json=body), path)

    def _send(self, method: str, path: str, **request: Any) -> httpx.Response:
        try:
            return self._client.request(method, path, **request)
        except httpx.ConnectError:
            raise AdminApiError(
                f"nothing is listening at {self.url}; start the emulator with "
                "`hamr serve --emulator`, or point --url (HAMR_URL) at it"
            ) from None
        except (httpx.UnsupportedProtocol, httpx.InvalidURL):
            raise AdminApiError(f"--url {self.url} is not an http:// or https:// URL") from None
        except httpx.TransportError as error:
            raise AdminApiError(
                f"{self.url} did not answer ({type(error).__name__}: {error})"
            ) from None

    def _check(self, answer: httpx.Response, path: str) -> httpx.Response:
        if answer.is_success:
            return answer
        errors = _errors(answer)
        if answer.status_code == 404:
            raise AdminApiError(
                f"{self.url} is not a hamr emulator (it has no {path}); start one with "
                "`hamr serve --emulator`, or point --url (HAMR_URL) at it"
            )
        if answer.status_code == 403 and any(
            e.get("source", {}).get("header") == ADMIN_HEADER for e in errors
        ):
            raise AdminApiError(
                f"{self.url} refused the admin token sent as {ADMIN_HEADER}; pass the one "
                "`hamr serve --emulator` printed at start with --admin-token or HAMR_ADMIN_TOKEN"
            )
        if answer.status_code == 400 and errors:
            raise AdminApiError("\n".join(map(_problem, errors)))
        shown = "; ".join(_details(answer)) or answer.reason_phrase
        raise AdminApiError(f"{self.url} answered {answer.status_code}: {shown}")


def _errors(answer: httpx.Response) -> list[dict[str, Any]]:
    """The JSON:API errors of an answer, or none when it holds none (not hamr, say)."""
    try:
        errors = answer.json().get("errors")
    except (ValueError, AttributeError):
        return []
    return [e for e in errors if isinstance(e, dict)] if isinstance(errors, list) else []


def _details(answer: httpx.Response) -> list[str]:
    return [str(e["detail"]) for e in _errors(answer) if "detail" in e]


def _problem(error: dict[str, Any]) -> str:
    """One refused part of a body: where (its JSON pointer into what was sent) and why."""
    pointer = error.get("source", {}).get("pointer")
    detail = str(error.get("detail", error.get("title", "refused")))
    return f"at {pointer}: {detail}" if pointer else detail


def _flat(resource: dict[str, Any]) -> dict[str, Any]:
    return {"id": resource["id"], **resource["attributes"]}


def _attributes(answer: httpx.Response) -> dict[str, Any]:
    attributes: dict[str, Any] = answer.json()["data"]["attributes"]
    return attributes
