"""The low-overhead streaming measurement client of every timing suite (see ``stream``): raw
asyncio HTTP/1.1 keep-alive, SSE parsed as bytes arrive, and the client's own saturation
measured (``saturation``). Accuracy suites and frameworks keep the openai SDK."""

from .saturation import SaturationMeter
from .stream import StreamClient, StreamResult

__all__ = ["SaturationMeter", "StreamClient", "StreamResult"]
