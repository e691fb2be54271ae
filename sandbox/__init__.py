"""A stand-in for Factorial HR's OAuth2 server and public API, for demos and tests.

The product never imports this package; it talks to it over HTTP like to Factorial.
"""

from sandbox.app import create_app
from sandbox.config import RuntimeSettings, SandboxConfig

__all__ = ["RuntimeSettings", "SandboxConfig", "create_app"]
