"""Own website / ERP: orders arrive through GraphQL `orderCreate`; nothing to pull or push."""
from server.channels.connectors.base import Connector


class WebsiteConnector(Connector):
    platform = "website"
    display_name = "Own website"
    config_fields = []


CONNECTOR = WebsiteConnector
