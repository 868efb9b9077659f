"""A running emulator's fault rules API (`/_hamr/faults`), from outside it, for `hamr fault`.
Whatever can go wrong from an operator's side (a refused rule, a wrong token, nothing listening,
a server that is no emulator) becomes an OperatorError of one line per problem."""

from __future__ import annotations

from types import TracebackType
from typing import Any, Self
from urllib.parse import quote

import httpx

from hamr.cli.support import OperatorError
from hamr.emulator.admin_auth import ADMIN_HEADER

FAULTS_PATH = "/_hamr/faults"
TIMEOUT_SECONDS = 30


class FaultAdmin:
    """The emulator at `url`'s fault rules, each as a flat document: its `id`, the rule as the
    server keeps it, and how often it `fired`."""

    def __init__(self, url: str, admin_token: str):
        self.url = url
        self._client = httpx.Client(
            base_url=url, headers={ADMIN_HEADER: admin_token}, timeout=TIMEOUT_SECONDS
        )

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._client.close()

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
            raise OperatorError("; ".join(_details(answer)) or f"there is no fault rule {rule_id}")
        self._check(answer)

    def _call(self, method: str, path: str, body: object = None) -> httpx.Response:
        return self._check(self._send(method, path, body))

    def _send(self, method: str, path: str, body: object = None) -> httpx.Response:
        try:
            return self._client.request(method, path, json=body)
        except httpx.ConnectError:
            raise OperatorError(
                f"nothing is listening at {self.url}; start the emulator with "
                "`hamr serve --emulator`, or point --url (HAMR_URL) at it"
            ) from None
        except (httpx.UnsupportedProtocol, httpx.InvalidURL):
            raise OperatorError(f"--url {self.url} is not an http:// or https:// URL") from None
        except httpx.TransportError as error:
            raise OperatorError(
                f"{self.url} did not answer ({type(error).__name__}: {error})"
            ) from None

    def _check(self, answer: httpx.Response) -> httpx.Response:
        if answer.is_success:
            return answer
        errors = _errors(answer)
        if answer.status_code == 404:
            raise OperatorError(
                f"{self.url} is not a hamr emulator (it has no {FAULTS_PATH}); start one with "
                "`hamr serve --emulator`, or point --url (HAMR_URL) at it"
            )
        if answer.status_code == 403 and any(
            e.get("source", {}).get("header") == ADMIN_HEADER for e in errors
        ):
            raise OperatorError(
                f"{self.url} refused the admin token sent as {ADMIN_HEADER}; pass the one "
                "`hamr serve --emulator` printed at start with --admin-token or HAMR_ADMIN_TOKEN"
            )
        if answer.status_code == 400 and errors:
            raise OperatorError("\n".join(map(_problem, errors)))
        shown = "; ".join(_details(answer)) or answer.reason_phrase
        raise OperatorError(f"{self.url} answered {answer.status_code}: {shown}")


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
    """One refused part of a rule: where (its JSON pointer into what was sent) and why."""
    pointer = error.get("source", {}).get("pointer")
    detail = str(error.get("detail", error.get("title", "refused")))
    return f"at {pointer}: {detail}" if pointer else detail


def _flat(resource: dict[str, Any]) -> dict[str, Any]:
    return {"id": resource["id"], **resource["attributes"]}
