"""Logging in with a token (and out); the only redirect target a form may name."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from taskshed_dashboard.auth import SESSION_COOKIE, TokenAuth
from taskshed_dashboard.pages import dashboard_of


async def login(request: Request) -> Response:
    dashboard = dashboard_of(request)
    root = request.scope.get("root_path", "")
    target = safe_next(request.query_params.get("next", "/"))
    auth = dashboard.auth
    if not isinstance(auth, TokenAuth):
        return RedirectResponse(f"{root}{target}", status_code=303)
    error = ""
    if request.method == "POST":
        form = await request.form()
        token = form.get("token")
        if isinstance(token, str) and auth.check_token(token):
            response = RedirectResponse(f"{root}{target}", status_code=303)
            response.set_cookie(
                SESSION_COOKIE,
                auth.new_session(),
                path=(root.rstrip("/") or "") + "/",
                httponly=True,
                samesite="strict",
                secure=request.url.scheme == "https",
            )
            return response
        error = "That token is not right."
    return dashboard.render(
        request,
        "login.html",
        status_code=401 if error else 200,
        page="login",
        error=error,
        next=target,
    )


async def logout(request: Request) -> Response:
    """Forget the token login of this browser (a POST, so it carries the CSRF token)."""
    root = request.scope.get("root_path", "")
    response = RedirectResponse(f"{root}/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path=(root.rstrip("/") or "") + "/")
    return response


def safe_next(target: str) -> str:
    """Only a path inside the dashboard: never another site (``//evil``, ``/\\evil``)."""
    if (
        not target.startswith("/")
        or target.startswith(("//", "/\\"))
        or "\r" in target
        or "\n" in target
    ):
        return "/"
    return target
