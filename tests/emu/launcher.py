"""Local AWS emulator for the `setup` integration tests.

The launcher: parses the options, patches moto (one module of this package per concern), stacks
the WSGI layers and serves them on loopback. From the outside in:

  endpoints.SetupEndpoints        /_setup/bulk-identity-pools, /_setup/iam-decisions (not logged)
  calllog.CallLogMiddleware       the call log, --delay-ms, the other /_setup/ endpoints
  faults.FaultMiddleware          fault injection and holds
  tagging.Inner                   the "denied" fault kind
  iam_enforce.IamEnforceMiddleware  IAM on the identity credentials sign_in.py hands out, and
                                  (iam_users) on IAM users' keys once moto enforces IAM
  moto's DomainDispatcherApplication

Run as `python3 tests/emulator.py` (see there for the options).
"""

import argparse
import ipaddress
import os
import signal
import sys
import threading

from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import make_server

from . import (
    calllog,
    endpoints,
    faults,
    iam_enforce,
    identity_pool_flows,
    iam_users,
    paging,
    pool_roles,
    principal_tags,
    realistic,
    resource_policies,
    role_mappings,
    sign_in,
    signature,
    table_options,
    table_status,
    tagging,
    user_pools,
)


def patch_moto() -> None:
    """Every patch of moto, in an order that matters; before the backend apps are created."""
    pool_roles.patch()
    identity_pool_flows.patch()
    principal_tags.patch()
    paging.patch()  # before realistic.install(), which wraps ListTagsOfResource
    user_pools.patch()
    realistic.install()  # before table_status.patch(), whose manual override must win
    table_options.patch()  # wraps the handlers realistic.install() patched
    table_status.patch()
    signature.patch()
    iam_users.patch()  # after signature: moto still authenticates, the simulator decides
    sign_in.patch()
    role_mappings.patch()  # ID token group claims; GetCallerIdentity of issued credentials
    resource_policies.patch()


class QuietHandler(MotoRequestHandler):
    """No per-request logging: an undrained stderr pipe must never block us."""

    def log_request(self, *args, **kwargs):
        pass

    def log_error(self, *args, **kwargs):  # dropped connections are expected in fault tests
        pass


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def exit_on_stdin_eof() -> None:
    # Raw os.read on fd 0: a daemon thread blocked inside sys.stdin's buffered
    # reader would make interpreter shutdown abort on its lock.
    try:
        while os.read(0, 4096):
            pass
    finally:
        os._exit(0)


def main(description: str = __doc__.splitlines()[0]) -> None:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 = pick a free port")
    parser.add_argument("--delay-ms", type=int,
                        default=int(os.environ.get("SETUP_EMULATOR_DELAY_MS", "0") or 0))
    parser.add_argument("--faults", default=os.environ.get("SETUP_EMULATOR_FAULTS", ""),
                        help="faults for every key, e.g. rate=0.1,seed=7,kinds=throttle+500+drop")
    parser.add_argument("--realistic", metavar="SPEC",
                        default=os.environ.get("SETUP_EMULATOR_REALISTIC", ""),
                        help="realistic mode: 'default', or name=seconds overrides such as "
                             "table_creating=0.5,iam_propagation=1 (see tests/emu/realistic.py)")
    parser.add_argument("--page-size", type=int, metavar="N",
                        default=os.environ.get("SETUP_EMULATOR_PAGE_SIZE") or None,
                        help="cap every List page at N items, to exercise paging (tests/emu/paging.py)")
    args = parser.parse_args()
    if not is_loopback(args.host):
        parser.error(f"refusing to bind non-loopback host {args.host!r}")
    try:
        realistic.configure(args.realistic)
        paging.configure(args.page_size)
    except ValueError as e:
        parser.error(str(e))

    # Real accounts have the AWS managed policies (arn:aws:iam::aws:policy/...), and people attach
    # them (AmazonDynamoDBFullAccess to a Cognito role); moto loads them only when asked, when an
    # account's IAM backend is created (about 0.2 s each).
    os.environ.setdefault("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")
    patch_moto()  # must happen before the backend apps are created
    try:  # never serve without it: identity credentials would be allowed everything
        enforce = iam_enforce.IamEnforceMiddleware(
            DomainDispatcherApplication(create_backend_app), sign_in.ISSUED_CREDENTIALS)
    except iam_enforce.SimulatorError as e:
        sys.exit(f"emulator: cannot enforce IAM on identity credentials: {e}")
    fault_injection = faults.FaultMiddleware(
        enforce, faults.parse_fault_arg(args.faults) if args.faults else None)
    tagging.install(fault_injection)
    app = endpoints.SetupEndpoints(
        calllog.CallLogMiddleware(fault_injection, args.delay_ms, fault_injection), enforce)
    server = make_server(args.host, args.port, app, threaded=True, request_handler=QuietHandler)

    def stop(signum, frame):
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    threading.Thread(target=exit_on_stdin_eof, daemon=True).start()

    sys.stdout.write(f"READY {server.server_port}\n")
    sys.stdout.flush()
    try:
        server.serve_forever()
    except SystemExit:
        pass
    finally:
        server.server_close()
        sys.stdout.flush()
        os._exit(0)  # don't wait on in-flight request or stdin threads
