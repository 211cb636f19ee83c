"""Douyin shop (抖店) connector."""
from server.channels.connectors.douyin.client import DouyinConnector

CONNECTOR = DouyinConnector

__all__ = ["CONNECTOR", "DouyinConnector"]
