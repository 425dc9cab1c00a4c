"""Deprecated location of the connection guards: they are `fsabench.web.protocol` now (kept for one release)."""

from fsabench.web.protocol import *  # noqa: F401,F403
from fsabench.web.protocol import protocol_class  # noqa: F401
