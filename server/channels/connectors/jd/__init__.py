"""JD (京东) POP connector."""
from server.channels.connectors.jd.client import JdConnector

CONNECTOR = JdConnector

__all__ = ["CONNECTOR", "JdConnector"]
