"""JSON answers: the one media type, and the one helper every route that answers a JSON
document (not a connection's GET, which get_answer.py builds) sends it with."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pydantic_core
from starlette.responses import Response

JSON = "application/json"


def json_response(
    document: Any, status: int = 200, headers: Mapping[str, str] | None = None
) -> Response:
    """`document` serialised (bytes are sent as they are) with the JSON media type."""
    body = document if isinstance(document, bytes) else pydantic_core.to_json(document)
    return Response(body, status_code=status, media_type=JSON, headers=headers)
