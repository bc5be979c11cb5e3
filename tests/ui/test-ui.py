#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""The dashboard under Xvfb, against a relay and a friend on loopback.

Starts build/app/punchline, drives it through its command line (a second
invocation reaches the running instance over D-Bus) and reads what the
window shows (--dump writes the text of every mapped widget). Screenshots
go to <build>/tests/ui/screenshots. Every wait has a deadline.
Run under dbus-run-session; exits 77 (skip) without Xvfb.
"""
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

BUILD = os.environ.get("PUNCH_BUILD_ROOT", os.path.join(os.path.dirname(__file__), "..", "..", "build"))
APP = os.path.join(BUILD, "app", "punchline")
PEERS = os.path.join(BUILD, "tests", "node", "punch-ui-peers")
SHOTS = os.path.join(BUILD, "tests", "ui", "screenshots")

procs = []
failures = []


def log(msg):
    print("# " + msg, flush=True)


def check(cond, what):
    print(("ok - " if cond else "not ok - ") + what, flush=True)
    if not cond:
        failures.append(what)
    return cond


def cleanup():
    for p in reversed(procs):
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                p.kill()


def start_xvfb():
    if shutil.which("Xvfb") is None:
        print("1..0 # SKIP Xvfb not installed")
        sys.exit(77)
    r, w = os.pipe()
    xvfb = subprocess.Popen(["Xvfb", "-displayfd", str(w), "-screen", "0", "1100x780x24", "-nolisten", "tcp"],
                            pass_fds=[w], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    procs.append(xvfb)
    os.close(w)
    deadline = time.time() + 15
    data = b""
    while time.time() < deadline and not data.endswith(b"\n"):
        chunk = os.read(r, 16)
        if not chunk:
            break
        data += chunk
    os.close(r)
    if not data.strip():
        print("1..0 # SKIP Xvfb did not start")
        sys.exit(77)
    return ":" + data.decode().strip()


def run_app(env, *args, timeout=15):
    try:
        return subprocess.run([APP, *args], env=env, timeout=timeout, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    except subprocess.TimeoutExpired:
        log("timed out: punchline " + " ".join(args))
        return None


def wait_primary(env, seconds):
    """Until the first instance owns its D-Bus name: a second invocation
    before that would become a primary instance of its own."""
    deadline = time.time() + seconds
    while time.time() < deadline:
        r = subprocess.run(["gdbus", "call", "--session", "--dest", "org.freedesktop.DBus",
                            "--object-path", "/org/freedesktop/DBus", "--method",
                            "org.freedesktop.DBus.NameHasOwner", "io.github.punchline.Punchline"],
                           env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, timeout=10)
        if "true" in r.stdout:
            return True
        time.sleep(0.2)
    return False


def dump(env, tmp, page=None):
    path = os.path.join(tmp, "dump.txt")
    if os.path.exists(path):
        os.unlink(path)
    args = ["--dump", path]
    if page:
        args = ["--page", page] + args
    run_app(env, *args)
    try:
        with open(path, encoding="utf-8") as f:
            return f.read()
    except FileNotFoundError:
        return ""


def wait_dump(env, tmp, page, predicate, seconds, what):
    deadline = time.time() + seconds
    text = ""
    while time.time() < deadline:
        text = dump(env, tmp, page)
        if predicate(text):
            return text
        time.sleep(0.5)
    log("last dump for '%s':\n%s" % (what, text))
    return None


def screenshot(env, name):
    if shutil.which("import") is None:
        return
    time.sleep(1.2)  # let the 1 Hz widgets draw
    path = os.path.join(SHOTS, name + ".png")
    subprocess.run(["import", "-window", "root", path], env=env, timeout=20,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    log("screenshot " + path)


def main():
    os.makedirs(SHOTS, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix="punch-ui-")
    display = start_xvfb()
    env = dict(os.environ)
    env.update({
        "DISPLAY": display,
        "GDK_BACKEND": "x11",
        "GSETTINGS_BACKEND": "memory",
        "GSETTINGS_SCHEMA_DIR": os.path.join(BUILD, "data"),
        "XDG_CONFIG_HOME": os.path.join(tmp, "config"),
        "NO_AT_BRIDGE": "1",
        "GTK_A11Y": "none",
    })
    env.pop("G_DEBUG", None)  # the core's identify logs a critical when a peer refuses identify

    peers = subprocess.Popen([PEERS, "127.0.0.1"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    procs.append(peers)
    world = json.loads(peers.stdout.readline())
    log("world: " + json.dumps(world))

    app = subprocess.Popen([APP, "--no-saved-relays", "--relay", world["relay"], "--listen", "/ip4/127.0.0.1/tcp/0"],
                           env=env, stdout=subprocess.DEVNULL, stderr=open(os.path.join(tmp, "app.log"), "w"))
    procs.append(app)
    if not check(wait_primary(env, 20), "the app starts and owns its D-Bus name"):
        return 1

    # The relay row reaches "Reserved", with a countdown and limits.
    text = wait_dump(env, tmp, "relays", lambda t: "\nReserved\n" in t, 30, "reserved")
    check(text is not None, "relay row reaches Reserved")
    if text:
        check("expires in" in text and "voucher valid" in text, "reservation row shows expiry countdown and voucher")
    screenshot(env, "relays")

    text = wait_dump(env, tmp, "overview", lambda t: "/p2p-circuit/p2p/" in t and "Reachable through 1 relay" in t, 15,
                     "overview")
    check(text is not None, "overview lists a relayed address and the reachability summary")
    screenshot(env, "overview")

    # A bad address shows the error and connects nowhere.
    run_app(env, "--connect", "/ip4/10.1.2.3/tcp/4001")
    text = wait_dump(env, tmp, "peers", lambda t: "must end in /p2p/" in t, 10, "bad address")
    check(text is not None, "connect dialog shows the error for a bad address")
    screenshot(env, "connect-error")
    if text:
        check("No peers yet" in text, "a bad address connects nowhere")

    # Through the relay: the dialog connects, the peers panel shows Relayed.
    run_app(env, "--connect", world["relayed"])
    text = wait_dump(env, tmp, "peers", lambda t: ("Relayed via" in t or "Punching…" in t) and "samples=0" not in t,
                     30, "relayed")
    check(text is not None, "peers panel shows the friend relayed, with RTT samples")
    screenshot(env, "peers-relayed")

    # Then directly: Direct in the panel and in the timeline.
    run_app(env, "--connect", world["direct"])
    text = wait_dump(env, tmp, "peers", lambda t: "\nDirect\n" in t and "1 of 1 peer direct" in t, 30, "direct")
    check(text is not None, "peers panel shows Direct and '1 of 1 peer direct'")
    if text:
        check("Path relayed → direct" in text or "Path punching → direct" in text, "timeline shows relayed → direct")
    text = wait_dump(env, tmp, "peers", lambda t: "[chart]" in t and " direct " in t.split("[chart]")[1].split("\n")[0],
                     15, "direct samples")
    check(text is not None, "RTT chart has direct samples")
    time.sleep(2.5)
    screenshot(env, "peers-direct")

    # Export: JSON that parses and holds the timeline.
    export_dir = os.path.join(tmp, "export")
    os.makedirs(export_dir)
    run_app(env, "--export", export_dir)
    report = None
    deadline = time.time() + 15
    while time.time() < deadline and report is None:
        for d in os.listdir(export_dir):
            p = os.path.join(export_dir, d, "summary.txt")
            if os.path.exists(p):
                time.sleep(0.5)
                with open(os.path.join(export_dir, d, "report.json"), encoding="utf-8") as f:
                    report = json.load(f)
        time.sleep(0.3)
    check(report is not None, "export writes report.json")
    if report:
        conns = [c for c in report["connections"] if c.get("peer_id") == world["friend"]]
        check(any(c["relayed"] for c in conns) and any(not c["relayed"] for c in conns),
              "report holds the relayed and the direct connection")
        check(all(c["timeline"] and c["timeline"][0]["to"] == "open" for c in conns), "every connection has a timeline")
        friend = [p for p in report["peers"] if p["peer_id"] == world["friend"]]
        check(friend and friend[0]["path"] == "direct", "report says the friend is direct")
        check("private" not in json.dumps(report).lower(), "report carries no private key")

    run_app(env, "--quit")
    try:
        app.wait(15)
        check(app.returncode == 0, "app quits cleanly")
    except subprocess.TimeoutExpired:
        check(False, "app quits within 15 s")
    peers.stdin.close()
    cleanup()
    shutil.rmtree(tmp, ignore_errors=True)
    return 1 if failures else 0


if __name__ == "__main__":
    try:
        status = main()
    finally:
        cleanup()
    sys.exit(status)
