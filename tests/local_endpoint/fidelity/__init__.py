"""Where moto is more forgiving than AWS, make it behave like AWS.

Each service module here patches moto (pinned in requirements-dev.txt) so a
behaviour AWS documents holds on the local endpoint too, and each patched
behaviour has its own self-test under tests/fidelity/. A module may also
register a request interceptor: a function that answers a request moto does
not implement (or implements destructively) before moto sees it.

Behaviours that a test must be able to switch off (to exercise a fallback)
are named toggles in SETTINGS, switched through the control API.
"""

import importlib
import pkgutil
import threading


class FidelitySettings:
    """Named on/off switches, shared by the patches and the control API."""

    DEFAULTS = {}

    def __init__(self):
        self._lock = threading.Lock()
        self._values = dict(self.DEFAULTS)

    def declare(self, name, default):
        """Called by a service module for each switch it reads."""
        with self._lock:
            self.DEFAULTS[name] = default
            self._values.setdefault(name, default)

    def enabled(self, name):
        with self._lock:
            return self._values[name]

    def update(self, values):
        with self._lock:
            unknown = set(values) - set(self._values)
            if unknown:
                raise KeyError(f"unknown fidelity switch(es): {sorted(unknown)}; known: {sorted(self._values)}")
            self._values.update(values)

    def reset(self):
        with self._lock:
            self._values = dict(self.DEFAULTS)

    def snapshot(self):
        with self._lock:
            return dict(self._values)


SETTINGS = FidelitySettings()

# Functions (environ, service, action) -> (status line, headers, body) or None.
INTERCEPTORS = []

# Extra control API routes, /_kmsrotate/<name>: function(method, payload) -> JSON-able.
# For test set-up that must happen inside the server process (bulk seeding,
# arming a one-shot behaviour) rather than through AWS requests.
CONTROL_ROUTES = {}


def install():
    """Apply every service module's patches (each module here with an install()).

    Idempotent; call before serving.
    """
    for module_info in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{module_info.name}").install()
