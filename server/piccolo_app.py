"""The single Piccolo app: every domain's tables, and migrations/ as the one history."""
import os

from piccolo.conf.apps import AppConfig, table_finder

from server.settings import ROOT

TABLE_MODULES = [
    "server.auth.tables",
    "server.audit.tables",
    "server.core.outbox_tables",
    "server.core.counter_tables",
    "server.catalog.tables",
    "server.channels.tables",
    "server.customers.tables",
    "server.orders.tables",
    "server.inventory.tables",
    "server.inventory.channel_stock_tables",
    "server.inventory.transfer_tables",
    "server.inventory.alert_tables",
    "server.core.mail_tables",
]

APP_CONFIG = AppConfig(
    app_name="oms",
    migrations_folder_path=os.path.join(ROOT, "migrations"),
    table_classes=table_finder(modules=TABLE_MODULES, exclude_imported=True),
    migration_dependencies=[],
    commands=[],
)
