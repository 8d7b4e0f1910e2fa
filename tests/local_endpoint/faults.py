"""Injected faults: latency, throttling, server errors and dropped connections.

Tests switch faults on and off at run time through the control API
(`LocalEndpoint.set_faults`). A rule matches requests by service and action
(both optional) and fires either at random with a given `rate` (seeded, so a
test run is repeatable) or on a fixed window of matching requests (`after`
skipped, then `count` fired). Errors are written in each service's own wire
format, so botocore parses them exactly as it would parse AWS's.

A `hold` rule parks the requests it fires on, before moto sees them, until
the rules are replaced or cleared (or `ms` passes); then they are served
normally. A test uses it to stop a client at an exact request: kill the
client while the request is held, release it, and the change lands with no
one left to read the answer, as when a connection dies after AWS acted.
"""

import json
import random
import socket
import threading
import time
import uuid

# The throttling error each service really returns, by SigV4 signing name.
_THROTTLE = {
    "kms": (400, "ThrottlingException", "Rate exceeded"),
    "s3": (503, "SlowDown", "Please reduce your request rate."),
    "ec2": (503, "RequestLimitExceeded", "Request limit exceeded."),
}
_DEFAULT_THROTTLE = (400, "ThrottlingException", "Rate exceeded")
_JSON_PROTOCOL_SERVICES = {"kms", "secretsmanager", "ssm", "dynamodb", "logs", "lambda", "elasticfilesystem"}
_INTERNAL_ERROR = {"kms": "KMSInternalException", "s3": "InternalError", "ec2": "InternalError"}

KINDS = ("latency", "throttle", "error", "drop", "hold")
# How long a hold lasts when its rule gives no `ms`: less than botocore's 60 s read timeout.
DEFAULT_HOLD_MS = 50000


class FaultRule:
    def __init__(self, kind, service=None, action=None, rate=None, count=None, after=0,
                 ms=0, status=500, code=None, message=None):
        if kind not in KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; expected one of {KINDS}")
        if rate is None and count is None:
            rate = 1.0
        self.kind = kind
        self.service = service
        self.action = action
        self.rate = rate
        self.count = count
        self.after = after
        self.ms = ms
        self.status = status
        self.code = code
        self.message = message
        self.matched = 0
        self.fired = 0
        self.holding = 0
        self.released = threading.Event()

    def matches(self, service, action):
        return (self.service in (None, service)) and (self.action in (None, action))

    def decide(self, rng):
        """Called with the injector's lock held, once per matching request."""
        self.matched += 1
        if self.matched <= self.after:
            return False
        if self.count is not None:
            fire = self.fired < self.count
        else:
            fire = rng.random() < self.rate
        if fire:
            self.fired += 1
        return fire

    def describe(self):
        return {"kind": self.kind, "service": self.service, "action": self.action, "rate": self.rate,
                "count": self.count, "after": self.after, "matched": self.matched, "fired": self.fired,
                "holding": self.holding}

    def hold(self, lock):
        """Park the calling request until the rule is released or its time is up (called without the lock)."""
        self.released.wait((self.ms or DEFAULT_HOLD_MS) / 1000.0)
        with lock:
            self.holding -= 1


def error_response(service, status, code, message):
    """(status line, headers, body) of an AWS error in the service's protocol."""
    request_id = str(uuid.uuid4())
    if service in _JSON_PROTOCOL_SERVICES:
        body = json.dumps({"__type": code, "message": message}).encode()
        content_type = "application/x-amz-json-1.1"
    elif service == "s3":
        body = (f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code><Message>{message}</Message>'
                f"<RequestId>{request_id}</RequestId></Error>").encode()
        content_type = "application/xml"
    elif service == "ec2":
        body = (f'<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error><Code>{code}</Code>'
                f"<Message>{message}</Message></Error></Errors><RequestID>{request_id}</RequestID></Response>").encode()
        content_type = "text/xml"
    else:
        body = (f'<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message></Error>'
                f"<RequestId>{request_id}</RequestId></ErrorResponse>").encode()
        content_type = "text/xml"
    reason = {400: "Bad Request", 500: "Internal Server Error", 503: "Slow Down"}.get(status, "Error")
    headers = [("Content-Type", content_type), ("Content-Length", str(len(body))),
               ("x-amzn-RequestId", request_id)]
    return f"{status} {reason}", headers, body


class FaultInjector:
    """Thread-safe rule set consulted once per request."""

    def __init__(self):
        self._lock = threading.Lock()
        self._rules = []
        self._rng = random.Random(0)

    def configure(self, rules, seed=0):
        parsed = [FaultRule(**rule) for rule in rules]
        with self._lock:
            replaced = self._rules
            self._rules = parsed
            self._rng = random.Random(seed)
        for rule in replaced:
            rule.released.set()

    def clear(self):
        self.configure([])

    def describe(self):
        with self._lock:
            return [rule.describe() for rule in self._rules]

    def plan(self, service, action):
        """The faults to apply to this request: (latency seconds, failing rule or None).

        A hold that fires parks the request here, outside the lock, before anything else applies.
        """
        delay = 0.0
        failing = None
        holds = []
        with self._lock:
            for rule in self._rules:
                if not rule.matches(service, action):
                    continue
                if rule.kind == "latency":
                    if rule.decide(self._rng):
                        delay += rule.ms / 1000.0
                elif rule.kind == "hold":
                    if rule.decide(self._rng):
                        rule.holding += 1
                        holds.append(rule)
                elif failing is None and rule.decide(self._rng):
                    failing = rule
        for rule in holds:
            rule.hold(self._lock)
        return delay, failing


def apply_failure(rule, service, environ, start_response):
    """Answer a request the way the failing rule says."""
    if rule.kind == "drop":
        # Cut the TCP connection with no response at all, as a dying load
        # balancer would: the client sees a connection error, not an HTTP one.
        # Writing the response then fails, which werkzeug treats as a client
        # that went away.
        environ["werkzeug.socket"].shutdown(socket.SHUT_RDWR)
        start_response("500 Internal Server Error", [("Content-Length", "0")])
        return [b""]
    if rule.kind == "throttle":
        status, code, message = _THROTTLE.get(service, _DEFAULT_THROTTLE)
        status = rule.status if rule.status != 500 else status
    else:
        status = rule.status
        code = rule.code or _INTERNAL_ERROR.get(service, "InternalFailure")
        message = rule.message or "We encountered an internal error. Please try again."
    if rule.code:
        code = rule.code
    if rule.message:
        message = rule.message
    status_line, headers, body = error_response(service, status, code, message)
    start_response(status_line, headers)
    return [body]


def sleep(seconds):
    if seconds > 0:
        time.sleep(seconds)
