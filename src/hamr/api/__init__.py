"""The ASGI application: routes, authentication, request schemas, JSON:API errors."""

from hamr.api.app import create_app

__all__ = ["create_app"]
