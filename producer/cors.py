"""CORS for browser apps: which origins may call the producer, and what they may see.

Off unless ``CORS_ALLOWED_ORIGINS`` names origins. It wraps the outermost app, in front of
the fast lane, so the ingest routes (which never reach Starlette) answer preflight
``OPTIONS`` too. A preflight from an origin not on the list gets ``400`` without
``Access-Control-Allow-Origin`` (Starlette's answer), and a simple request from one gets its
normal answer without it: either way the browser keeps the answer from the page.
"""

from __future__ import annotations

from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp

__all__ = ["ALLOWED_HEADERS", "ALLOWED_METHODS", "EXPOSED_HEADERS", "with_cors"]

ALLOWED_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
ALLOWED_HEADERS = ("Authorization", "X-API-Key", "Content-Type")
EXPOSED_HEADERS = ("Retry-After", "RateLimit", "RateLimit-Policy")
PREFLIGHT_MAX_AGE = 600  # seconds a browser may cache a preflight answer


def with_cors(app: ASGIApp, origins: tuple[str, ...]) -> ASGIApp:
    """``app`` behind CORS for ``origins`` (``*`` allows any); ``app`` itself when empty."""
    if not origins:
        return app
    return CORSMiddleware(
        app,
        allow_origins=list(origins),
        allow_methods=list(ALLOWED_METHODS),
        allow_headers=list(ALLOWED_HEADERS),
        expose_headers=list(EXPOSED_HEADERS),
        allow_credentials=False,  # credentials travel in headers, never in cookies
        max_age=PREFLIGHT_MAX_AGE,
    )
