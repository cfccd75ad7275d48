"""Real MLflow tracking servers for tests, started by the app's launcher (`app.integrations.mlflow.server`).

Never a mock. `MlflowServer` can be stopped and started again on the same store and port (the outage test), and
`basic_auth=True` starts MLflow's basic-auth app (`--app-name basic-auth`) with the admin account below.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from app.integrations.mlflow.server import LocalMlflowServer

# The admin MLflow's basic-auth app creates on first start (our basic_auth.ini; MLflow refuses its old default).
ADMIN_USER = "admin"
ADMIN_PASSWORD = "labbook-test-admin-pw-7"


@dataclass
class MlflowServer(LocalMlflowServer):
    basic_auth: bool = False

    def start(self, *, timeout: float = 120) -> MlflowServer:
        if self.basic_auth:
            self.extra_args = ("--app-name", "basic-auth")
            self.extra_env = {
                "MLFLOW_AUTH_CONFIG_PATH": str(self._auth_config()),
                "MLFLOW_FLASK_SERVER_SECRET_KEY": "labbook-test-only-secret",  # CSRF key the auth app requires
            }
        super().start(timeout=timeout)
        return self

    def _auth_config(self) -> Path:
        self.root.mkdir(parents=True, exist_ok=True)
        path = self.root / "basic_auth.ini"
        path.write_text(
            "[mlflow]\n"
            "default_permission = READ\n"
            f"database_uri = sqlite:///{self.root / 'basic_auth.db'}\n"
            f"admin_username = {ADMIN_USER}\n"
            f"admin_password = {ADMIN_PASSWORD}\n"
            "authorization_function = mlflow.server.auth:authenticate_request_basic_auth\n"
        )
        return path
