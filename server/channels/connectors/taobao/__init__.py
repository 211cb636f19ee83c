"""Taobao / Tmall (TOP) connector."""
from server.channels.connectors.taobao.client import TaobaoConnector

CONNECTOR = TaobaoConnector

__all__ = ["CONNECTOR", "TaobaoConnector"]
