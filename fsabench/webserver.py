"""Deprecated location of the shared web stack: it is `fsabench.web` now (kept for one release)."""

from fsabench.web.limits import LOG, Limits, error_json  # noqa: F401
from fsabench.web.stack import *  # noqa: F401,F403
from fsabench.web.stack import BodyTooLarge, _header  # noqa: F401
