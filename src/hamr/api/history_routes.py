"""`GET /api/v2/hamr/history` (hamr's extension): the caller's pair's history, newest first, as
a JSON:API list paged by cursor. Admitted as GET /api/v2/hamr is (same credentials, same
`hamr_get` budget); the page is read in SQL on a worker thread, off the event loop."""

from __future__ import annotations

from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response

from hamr.api.admission import admit
from hamr.api.history_query import PAGE_CURSOR, PAGE_SIZE, encode_cursor, parse_history_query
from hamr.api.responses import json_response
from hamr.api.routes import HAMR_PATH
from hamr.api.state import AppState
from hamr.domain.model import HistoryEntry, HistoryPage, HistoryQuery, format_timestamp

HISTORY_PATH = HAMR_PATH + "/history"
EVENT_TYPE = "hamr_history_events"


async def list_history(request: Request) -> Response:
    state: AppState = request.app.state.hamr
    principal = await admit(request.scope, state, "hamr_get")
    query = parse_history_query(request.query_params)
    page = await state.reads(state.service.history_page, principal.org.uuid, query)
    return json_response(history_document(page, query, request))


def history_document(page: HistoryPage, query: HistoryQuery, request: Request) -> object:
    next_cursor = encode_cursor(page.next_before_id) if page.next_before_id is not None else None
    next_link = None
    if next_cursor is not None:
        # The same filters and size, from the new cursor.
        kept = [(k, v) for k, v in request.query_params.multi_items() if k != PAGE_CURSOR]
        if PAGE_SIZE not in request.query_params:
            kept.append((PAGE_SIZE, str(query.size)))
        next_link = str(request.url.replace(query=urlencode([*kept, (PAGE_CURSOR, next_cursor)])))
    return {
        "data": [event(entry) for entry in page.entries],
        "meta": {"page": {"size": query.size, "next_cursor": next_cursor}},
        "links": {"next": next_link},
    }


def event(entry: HistoryEntry) -> dict[str, object]:
    return {
        "id": str(entry.id),
        "type": EVENT_TYPE,
        "attributes": {
            "org_uuid": entry.org_uuid,
            "key_id": entry.key_id,
            "connection_id": entry.connection_id,
            "modified_by": entry.modified_by,
            "recorded_at": format_timestamp(entry.recorded_at_us),
            "before": entry.before,
            "after": entry.after,
            "violation": entry.violation,
            "reason": entry.reason,
            "chain_hash": entry.chain_hash,
        },
    }
