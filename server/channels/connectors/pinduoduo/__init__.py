"""Pinduoduo (拼多多) POP connector."""
from server.channels.connectors.pinduoduo.client import PinduoduoConnector

CONNECTOR = PinduoduoConnector

__all__ = ["CONNECTOR", "PinduoduoConnector"]
