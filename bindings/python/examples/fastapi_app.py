"""A FastAPI app on userpool: sign-up, confirmation, sign-in and a protected route.

Run it with ``uvicorn fastapi_app:app`` (``pip install fastapi uvicorn`` first; codes are
printed, as a development delivery).
The protected route's dependency verifies the bearer access token with
``verify_access_token``; the pool does the work, the app only maps errors to HTTP codes.
"""

from typing import Annotated, Any, Callable, Optional

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel

import userpool


class SignUpBody(BaseModel):
    username: str
    password: str
    email: str


class ConfirmBody(BaseModel):
    username: str
    code: str


class SignInBody(BaseModel):
    username: str
    password: str


def print_message(message: userpool.Message) -> None:
    """Development delivery: print the code instead of sending an email."""
    print(f"[{message.channel} to {message.destination}] {message.text}")


STATUS = {
    "UsernameExistsException": 409,
    "InvalidPasswordException": 400,
    "InvalidParameterException": 400,
    "CodeMismatchException": 400,
    "ExpiredCodeException": 400,
    "NotAuthorizedException": 401,
    "UserNotConfirmedException": 403,
    "CodeDeliveryFailureException": 502,
}


def http_error(error: userpool.AuthError) -> HTTPException:
    """An HTTP error carrying the Cognito code, as Amplify clients expect."""
    return HTTPException(STATUS.get(error.code, 400), detail={"code": error.code, "message": error.message})


def create_app(
    config: Optional[dict[str, Any]] = None,
    delivery: Callable[[userpool.Message], object] = print_message,
) -> FastAPI:
    """The app, on an in-memory pool (pass ``path=`` to ``UserPool.open`` to keep users)."""
    pool = userpool.aio.UserPool(userpool.UserPool.open(config=config, delivery=delivery))
    app = FastAPI(title="userpool example")
    bearer = HTTPBearer()

    @app.exception_handler(UnicodeEncodeError)
    async def unencodable_text(_request: Request, _error: UnicodeEncodeError) -> JSONResponse:
        """JSON may carry a lone surrogate ("\\ud800"), which no str the pool takes may hold."""
        detail = {"code": "InvalidParameterException", "message": "text with a lone surrogate"}
        return JSONResponse({"detail": detail}, status_code=400)

    async def current_claims(
        credentials: Annotated[HTTPAuthorizationCredentials, Depends(bearer)],
    ) -> dict[str, Any]:
        """The verified claims of the request's access token (401 otherwise)."""
        try:
            return await pool.verify_access_token(credentials.credentials)
        except userpool.AuthError as e:
            raise http_error(e) from e

    @app.post("/sign-up")
    async def sign_up(body: SignUpBody) -> dict[str, Any]:
        try:
            result = await pool.sign_up(body.username, body.password, {"email": body.email})
        except userpool.AuthError as e:
            raise http_error(e) from e
        delivery_details = result.code_delivery
        return {
            "user_sub": result.user_sub,
            "next_step": result.next_step.value,
            "destination": delivery_details.destination if delivery_details else None,
        }

    @app.post("/confirm")
    async def confirm(body: ConfirmBody) -> dict[str, str]:
        try:
            await pool.confirm_sign_up(body.username, body.code)
        except userpool.AuthError as e:
            raise http_error(e) from e
        return {"next_step": "DONE"}

    @app.post("/sign-in")
    async def sign_in(body: SignInBody) -> dict[str, Any]:
        try:
            result = await pool.sign_in(body.username, body.password)
        except userpool.AuthError as e:
            raise http_error(e) from e
        if result.tokens is None:
            return {"next_step": result.next_step.value, "session": result.session}
        return {
            "next_step": result.next_step.value,
            "access_token": result.tokens.access_token,
            "id_token": result.tokens.id_token,
            "refresh_token": result.tokens.refresh_token,
            "expires_in": result.tokens.expires_in,
        }

    @app.get("/me")
    async def me(claims: Annotated[dict[str, Any], Depends(current_claims)]) -> dict[str, Any]:
        return {"username": claims["username"], "sub": claims["sub"]}

    @app.get("/.well-known/jwks.json")
    async def jwks() -> Any:
        import json

        return json.loads(await pool.jwks())

    return app


app = create_app()
