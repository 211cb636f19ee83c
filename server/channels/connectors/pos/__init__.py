"""Offline store / POS: orders come from the staff form, CSV import or GraphQL `orderCreate`."""
from server.channels.connectors.base import Connector


class PosConnector(Connector):
    platform = "pos"
    display_name = "Offline store / POS"
    config_fields = []


CONNECTOR = PosConnector
