"""WooCommerce (REST API v3). See client.py for the api_base_url convention."""
from server.channels.connectors.woocommerce.client import WooCommerceConnector

CONNECTOR = WooCommerceConnector

__all__ = ["CONNECTOR", "WooCommerceConnector"]
