"""Shopify (Admin REST API). See client.py for the api_base_url convention."""
from server.channels.connectors.shopify.client import ShopifyConnector

CONNECTOR = ShopifyConnector

__all__ = ["CONNECTOR", "ShopifyConnector"]
