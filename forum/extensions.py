"""Extension objects shared by the app factory and the blueprints (no app import cycles)."""

from __future__ import annotations

from flask import request
from flask_limiter import Limiter
from flask_login import LoginManager
from flask_wtf.csrf import CSRFProtect

csrf = CSRFProtect()
login_manager = LoginManager()
login_manager.login_view = "auth.login"
login_manager.login_message = "Please log in to continue."
login_manager.login_message_category = "info"
# Off: "strong" binds a session to the address and browser only for non-permanent sessions,
# and every forum session is permanent, so it only marked sessions as not fresh, which nothing
# reads. What ends a session is its server-side row (forum.services.logins), revoked at logout.
login_manager.session_protection = None


def client_address() -> str:
    """The client's address as seen through the configured number of trusted proxies."""
    return request.remote_addr or "unknown"


limiter = Limiter(key_func=client_address)
