"""OMS: self-hosted multi-channel order management."""
import os

# Piccolo finds its engine through this module (server/piccolo_conf.py).
os.environ.setdefault("PICCOLO_CONF", "server.piccolo_conf")
