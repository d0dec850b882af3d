"""The web service and its page: recommendations, similar films, and new users rating their way in.

``embrec serve RUN`` runs it; :func:`create_app` builds the FastAPI app for tests or other servers.
"""

from embrec.extras import require

require("serve", "the web service")

from embrec.service.app import create_app, run_server  # noqa: E402 - after the check of the extra

__all__ = ["create_app", "run_server"]
