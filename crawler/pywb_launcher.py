"""Entry point run *inside pywb's own virtual environment* (not ours) to serve WARCs locally.

pywb pins ``redis==2.10.6`` and other old libraries, so it lives in its own venv and this file
imports nothing from policytrail. ``crawler.localarchive`` starts it as a subprocess.

What it does differently from pywb's ``wayback`` command, and why:
- the collection ``web`` is built from the WARCs given on the command line (``wb-manager`` steps);
- pywb's ``fuzzy_lookup`` rules are removed: with them, a CDX query whose filter matches nothing
  returns every row of a similar URL, which would turn into phantom captures;
- ``redirect_to_exact: true``: a replay request for an inexact timestamp redirects to the exact one,
  as the Wayback Machine does, instead of silently serving another capture;
- TCP_NODELAY on every connection: gevent keep-alive responses otherwise stall ~44 ms each
  (Nagle + delayed ACK), which caps a crawl at ~20 requests/s;
- it binds port 0 on loopback and writes the port it got to ``--port-file``, so callers never race
  for a "free" port.
"""

from gevent.monkey import patch_all

patch_all()

import argparse  # noqa: E402
import contextlib  # noqa: E402
import os  # noqa: E402
import socket  # noqa: E402
import sys  # noqa: E402

import yaml  # noqa: E402
from gevent.pywsgi import WSGIServer  # noqa: E402
from pywb.utils.geventserver import RequestURIWSGIHandler  # noqa: E402


class NoDelayHandler(RequestURIWSGIHandler):
    def handle(self):
        with contextlib.suppress(OSError):
            self.socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return super().handle()


def build_collection(root, coll, warcs):
    from pywb.manager.manager import CollectionsManager

    os.chdir(root)
    index = os.path.join(root, "collections", coll, "indexes", "index.cdxj")
    if os.path.exists(index):
        return
    mgr = CollectionsManager(coll, must_exist=False)
    mgr.add_collection()
    mgr.add_archives(list(warcs))


def write_config(root):
    import pywb

    with open(os.path.join(os.path.dirname(pywb.__file__), "rules.yaml")) as fh:
        rules = yaml.safe_load(fh)
    for rule in rules.get("rules", []):
        rule.pop("fuzzy_lookup", None)
    rules_path = os.path.join(root, "rules-no-fuzzy.yaml")
    with open(rules_path, "w") as fh:
        yaml.safe_dump(rules, fh)
    config = {
        "rules_config": rules_path,
        "redirect_to_exact": True,
        "enable_memento": True,
        "framed_replay": False,
    }
    with open(os.path.join(root, "config.yaml"), "w") as fh:
        yaml.safe_dump(config, fh)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--root", required=True, help="working directory for the collection")
    ap.add_argument("--warc", action="append", default=[], help="WARC file to serve (repeatable)")
    ap.add_argument("--coll", default="web")
    ap.add_argument("--bind", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file", required=True)
    args = ap.parse_args()

    root = os.path.abspath(args.root)
    os.makedirs(root, exist_ok=True)
    build_collection(root, args.coll, [os.path.abspath(w) for w in args.warc])
    write_config(root)
    os.chdir(root)

    from pywb.apps.frontendapp import FrontEndApp

    app = FrontEndApp(config_file=os.path.join(root, "config.yaml"))
    server = WSGIServer((args.bind, args.port), app, handler_class=NoDelayHandler, log=None)
    server.init_socket()
    port = server.address[1]
    tmp = args.port_file + ".tmp"
    with open(tmp, "w") as fh:
        fh.write(str(port))
    os.replace(tmp, args.port_file)
    sys.stdout.write(f"pywb serving collection {args.coll!r} on http://{args.bind}:{port}/\n")
    sys.stdout.flush()
    server.serve_forever()


if __name__ == "__main__":
    main()
