"""Amazon Selling Partner API connector."""
from server.channels.connectors.amazon.client import AmazonConnector

CONNECTOR = AmazonConnector

__all__ = ["CONNECTOR", "AmazonConnector"]
