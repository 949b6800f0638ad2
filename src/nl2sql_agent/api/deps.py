"""FastAPI dependencies as ``Annotated`` aliases: the services and the authenticated principal."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from nl2sql_agent.api.service import Services
from nl2sql_agent.auth import Principal

# auto_error=False: our own 401 body (the common error shape) instead of FastAPI's default.
_bearer = HTTPBearer(auto_error=False, description="An API key (nl2sql_...) or an HS256 JWT.")
_api_key = APIKeyHeader(name="X-API-Key", auto_error=False, description="An API key (nl2sql_...).")


async def get_services(request: Request) -> Services:
    """The app's services (built in the lifespan)."""
    # async: FastAPI runs a plain ``def`` dependency in a worker thread, a hop on every request.
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]


async def get_principal(
    request: Request,
    services: ServicesDep,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    api_key: Annotated[str | None, Depends(_api_key)],
) -> Principal:
    """The caller; 401 (via :class:`AuthenticationError`) without valid credentials."""
    authorization = f"Bearer {bearer.credentials}" if bearer else None
    principal = await services.authenticator.authenticate(authorization, api_key)
    request.state.principal_id = principal.id  # for the access log; never the credential
    return principal


PrincipalDep = Annotated[Principal, Depends(get_principal)]
