"""The local AWS endpoint: moto behind the fidelity layer and the fault layer.

    request -> control API (/_kmsrotate/...) | request counter -> faults
            -> [IAM authorization, when enforced] -> fidelity interceptors -> moto

Run it with `python -m local_endpoint` (tests/ on PYTHONPATH); tests drive it
through `local_endpoint.LocalEndpoint`.
"""

import collections
import json
import threading

from werkzeug.serving import make_server

from . import fidelity
from .faults import FaultInjector, apply_failure, sleep
from .requests import action_of, service_of

CONTROL_PREFIX = "/_kmsrotate/"


class RequestCounter:
    def __init__(self):
        self._lock = threading.Lock()
        self._counts = collections.Counter()

    def add(self, service, action):
        with self._lock:
            self._counts[f"{service}:{action}"] += 1

    def snapshot(self):
        with self._lock:
            return dict(self._counts)

    def clear(self):
        with self._lock:
            self._counts.clear()


class EndpointApp:
    """WSGI application wrapping moto's server app."""

    def __init__(self, moto_app, reset_moto, authorize=None):
        self.moto_app = moto_app
        self.reset_moto = reset_moto
        # iam_enforcement.check when IAM is enforced: requests answered before moto are authorized here.
        self.authorize = authorize
        self.faults = FaultInjector()
        self.counter = RequestCounter()

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        if path.startswith(CONTROL_PREFIX):
            return self._control(path[len(CONTROL_PREFIX):], environ, start_response)
        service = service_of(environ)
        action = action_of(environ, service)
        self.counter.add(service, action)
        delay, failing = self.faults.plan(service, action)
        sleep(delay)
        if failing is not None:
            return apply_failure(failing, service, environ, start_response)
        denied = self.authorize(environ, service, action) if self.authorize else None
        if denied is not None:
            status, headers, body = denied
            start_response(status, headers)
            return [body]
        for interceptor in fidelity.INTERCEPTORS:
            answer = interceptor(environ, service, action)
            if answer is not None:
                status, headers, body = answer
                start_response(status, headers)
                return [body]
        return self.moto_app(environ, start_response)

    def _control(self, route, environ, start_response):
        method = environ["REQUEST_METHOD"]
        length = int(environ.get("CONTENT_LENGTH") or 0)
        payload = json.loads(environ["wsgi.input"].read(length) or b"{}") if length else {}
        try:
            answer = self._dispatch(route, method, payload)
            status = "200 OK"
        except (KeyError, TypeError, ValueError) as exc:
            answer = {"error": str(exc)}
            status = "400 Bad Request"
        body = json.dumps(answer).encode()
        start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
        return [body]

    def _dispatch(self, route, method, payload):
        if route == "health":
            return {"ok": True}
        if route == "faults":
            if method == "POST":
                self.faults.configure(payload.get("rules", []), seed=payload.get("seed", 0))
            elif method == "DELETE":
                self.faults.clear()
            return {"rules": self.faults.describe()}
        if route == "fidelity":
            if method == "POST":
                fidelity.SETTINGS.update(payload)
            return fidelity.SETTINGS.snapshot()
        if route == "stats":
            if method == "DELETE":
                self.counter.clear()
            return self.counter.snapshot()
        if route == "reset" and method == "POST":
            self.reset_moto()
            self.faults.clear()
            self.counter.clear()
            fidelity.SETTINGS.reset()
            return {"reset": True}
        if route in fidelity.CONTROL_ROUTES:
            return fidelity.CONTROL_ROUTES[route](method, payload)
        raise KeyError(f"no control route {method} {route}")


def build_app():
    # Imported here so patches are installed before moto builds its backends' apps.
    fidelity.install()
    from moto.moto_api._internal import moto_api_backend
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

    from . import iam_enforcement

    moto_app = DomainDispatcherApplication(create_backend_app)
    if iam_enforcement.enabled():
        iam_enforcement.install()
        return EndpointApp(moto_app, iam_enforcement.with_admin(moto_api_backend.reset), iam_enforcement.check)
    return EndpointApp(moto_app, moto_api_backend.reset)


def serve(host="127.0.0.1", port=0, on_ready=None):
    """Serve until interrupted; on_ready(port) is called once listening."""
    from moto.moto_server.werkzeug_app import MotoRequestHandler

    app = build_app()
    server = make_server(host, port, app, threaded=True, request_handler=MotoRequestHandler)
    if on_ready is not None:
        on_ready(server.server_port)
    server.serve_forever()
