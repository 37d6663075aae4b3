"""Headers on every response. Everything the pages show came from criminals' websites, so the policy
allows only this server's own static CSS/JS and images: no inline script or style, no plugins, no
framing by others. A route that needs a stricter policy (the archived page) sets its own header first."""

from __future__ import annotations

from flask import Flask, Response, request

CSP = "; ".join((
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self'",
    "frame-src 'self'",  # the evidence viewer's sandboxed iframe
    "form-action 'self'",
    "base-uri 'none'",
    "frame-ancestors 'none'",
    "connect-src 'self'",
))

HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",  # crawled onion URLs never leak to anything a page links to
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=()",
}


def init_app(app: Flask, tls: bool = False) -> None:
    headers = HEADERS | ({"Strict-Transport-Security": "max-age=31536000"} if tls else {})

    def add_headers(response: Response) -> Response:
        response.headers.setdefault("Content-Security-Policy", CSP)
        for name, value in headers.items():
            response.headers.setdefault(name, value)
        # Police data: never kept by the browser's or a proxy's cache. Overwritten, not defaulted: send_file
        # (screenshots, exports) sets "no-cache" plus validators, which still stores the file on disk.
        if request.endpoint != "static":
            response.headers["Cache-Control"] = "no-store"
            for validator in ("ETag", "Last-Modified", "Expires"):
                response.headers.pop(validator, None)
        return response

    app.after_request(add_headers)
