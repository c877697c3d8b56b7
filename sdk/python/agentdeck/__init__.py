"""agentdeck SDK: trace sessions, ordered events and artifacts, delivered off the caller's thread.

    from agentdeck import Tracer
    tracer = Tracer()  # AGENTDECK_URL, AGENTDECK_API_KEY
    with tracer.session(name="checkout") as session:
        session.tool_call("search", {"q": "shoes"})
    tracer.flush()
"""

from agentdeck.delivery import BufferFull, Counts, Refused, Rejection, Stats
from agentdeck.hooks.tools import tool
from agentdeck.session import Session, current_session
from agentdeck.tracer import Tracer
from agentdeck.transport import RetryPolicy

__all__ = ["BufferFull", "Counts", "Refused", "Rejection", "RetryPolicy", "Session", "Stats", "Tracer",
           "current_session", "tool"]
