"""The API's paths, named once: the routes serve them, and error details point clients at them."""

from __future__ import annotations

HAMR_PATH = "/api/v2/hamr"
PAIR_PATH = HAMR_PATH + "/pair"
