"""The Models page: a FastAPI app mounted at ``/models`` behind Airflow's login, shown in the UI's navigation.

The HTML comes from ``pipelines.reports.models_page``; this module only serves it, and model card and Data Docs files
with a CSP that runs no script (their values come from data). Unauthenticated requests are sent to
Airflow's login page. ``MLFLOW_UI_URL`` is where the links to MLflow point (``make up`` sets it).
"""

from __future__ import annotations

import base64
import os
from collections.abc import Callable

from airflow.plugins_manager import AirflowPlugin
from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse, Response

ICON = (
    "data:image/svg+xml;base64,"
    + base64.b64encode(
        b'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24" fill="#ebf8ff" stroke="#2b6cb0"'
        b' stroke-width="2" stroke-linejoin="round">'
        b'<path d="M12 2 3 7l9 5 9-5-9-5zM3 12l9 5 9-5M3 17l9 5 9-5"/></svg>'
    ).decode()
)


async def logged_in(request: Request) -> None:
    """Airflow's own authentication (its JWT, cookie or bearer); without it, a redirect to the login page."""
    from airflow.api_fastapi.app import get_auth_manager
    from airflow.api_fastapi.auth.managers.models.resource_details import AccessView
    from airflow.api_fastapi.core_api.security import bearer_scheme, get_user

    try:
        user = await get_user(request, None, await bearer_scheme(request))
    except HTTPException:
        login = get_auth_manager().get_url_login(next_url=str(request.url))
        raise HTTPException(307, "login required", headers={"Location": login}) from None
    if not get_auth_manager().is_authorized_view(access_view=AccessView.WEBSITE, user=user):
        raise HTTPException(403, "Forbidden")
    request.state.user = user


def _visible(request: Request) -> list[str]:
    """The models whose ``retrain_<model>`` DAG this user may read in Airflow."""
    from airflow.api_fastapi.app import get_auth_manager
    from airflow.api_fastapi.auth.managers.models.resource_details import DagDetails

    from pipelines.reports import models_page

    auth, user = get_auth_manager(), request.state.user
    return [
        name
        for name in models_page.model_names()
        if auth.is_authorized_dag(method="GET", user=user, details=DagDetails(id=f"retrain_{name}"))
    ]


app = FastAPI(title="Models", dependencies=[Depends(logged_in)], docs_url=None, redoc_url=None, openapi_url=None)


def _base(request: Request) -> str:
    return str(request.scope.get("root_path", "")).rstrip("/")


def _mlflow_url() -> str:
    return os.environ.get("MLFLOW_UI_URL", "http://localhost:5000")


@app.get("/", response_class=HTMLResponse)
def overview(request: Request) -> str:
    """Every model the user may read, with its champion and latest checks."""
    from pipelines.reports import models_page

    return models_page.overview_html([models_page.report(m) for m in _visible(request)], _base(request))


@app.get("/{model}", response_class=HTMLResponse)
def model(request: Request, model: str) -> Response:
    """One model: its aliases, ledger timeline, quality, drift and cards."""
    from pipelines.reports import models_page

    if model not in _visible(request):
        return HTMLResponse(models_page.error_html(404, f"no model named {model!r}", _base(request)), 404)
    return HTMLResponse(models_page.model_html(models_page.report(model), _base(request), _mlflow_url()))


@app.get("/{model}/versions/{version}/card/{name}")
def card(request: Request, model: str, version: str, name: str) -> Response:
    """A file of a version's model card, served under the sandbox CSP."""
    from pipelines.reports import models_page

    return _sandboxed(request, model, lambda: models_page.card_file(model, version, name), models_page.CARD_POLICY)


@app.get("/{model}/data-docs/{window}/{path:path}")
def data_docs(request: Request, model: str, window: str, path: str) -> Response:
    """A file of the Data Docs of one of the model's snapshot windows."""
    from pipelines.reports import models_page

    return _sandboxed(request, model, lambda: models_page.docs_file(model, window, path), models_page.DOCS_POLICY)


def _sandboxed(request: Request, model: str, read: Callable[[], tuple[bytes, str]], policy: str) -> Response:
    """A file of a model the user may see, with a CSP that lets it run no script; an error page otherwise."""
    from pipelines.reports import models_page

    if model not in _visible(request):
        return HTMLResponse(models_page.error_html(404, f"no model named {model!r}", _base(request)), 404)
    try:
        content, media_type = read()
    except models_page.PageError as exc:
        return HTMLResponse(models_page.error_html(exc.status, exc.message, _base(request)), exc.status)
    headers = {"Content-Security-Policy": policy, "X-Content-Type-Options": "nosniff"}
    return Response(content, media_type=media_type, headers=headers)


class ModelsPagePlugin(AirflowPlugin):
    """Registers the Models page app and its entry in Airflow's navigation."""

    name = "models_page"
    # AirflowPlugin declares these as plain class attributes (RUF012 would have them ClassVar, which mypy refuses)
    fastapi_apps = [{"app": app, "url_prefix": "/models", "name": "Models"}]  # noqa: RUF012
    # With a url_route the UI shows href inside its own frame, at /plugin/models.
    external_views = [  # noqa: RUF012
        {
            "name": "Models",
            "href": "models/",
            "url_route": "models",
            "destination": "nav",
            "nav_top_level": True,
            "icon": ICON,
        }
    ]
