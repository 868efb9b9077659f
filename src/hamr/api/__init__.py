"""The ASGI application: routes, authentication, request schemas, JSON:API errors."""
