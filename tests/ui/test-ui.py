#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""The dashboard under Xvfb, against a relay and a friend on loopback.

Starts build/app/punchline, drives it through its command line (a second
invocation reaches the running instance over D-Bus) and reads what the
window shows (--dump writes the text of every mapped widget). Screenshots
go to <build>/tests/ui/screenshots. Every wait has a deadline.
Run under dbus-run-session; exits 77 (skip) without Xvfb.

With --punch it runs in a network namespace of its own (start it under
`unshare -rn`): loopback carries an address from 198.18.0.0/15, which the
core counts as public, so the friend's DCUtR upgrades the relayed
connection to a direct one by itself, as across the internet.
"""
import json
import os
import queue
import re
import shutil
import signal
import socket
import socketserver
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

BUILD = os.environ.get("PUNCH_BUILD_ROOT", os.path.join(os.path.dirname(__file__), "..", "..", "build"))
APP = os.path.join(BUILD, "app", "punchline")
PEERS = os.path.join(BUILD, "tests", "node", "punch-ui-peers")
CLI = os.path.join(BUILD, "app", "punchline-cli")
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


# ---- port forwarding (the Services section) ----

class EchoHandler(socketserver.BaseRequestHandler):
    def handle(self):
        while True:
            data = self.request.recv(65536)
            if not data:
                break
            self.request.sendall(data)


class QuietHTTPHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def serve_in_thread(server):
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def start_cli(args):
    """punchline-cli with --json; returns the process and a queue of its events."""
    p = subprocess.Popen([CLI, "--json", *args], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    procs.append(p)
    events = queue.Queue()

    def reader():
        for line in p.stdout:
            try:
                events.put(json.loads(line))
            except ValueError:
                pass
    threading.Thread(target=reader, daemon=True).start()
    return p, events


def wait_event(events, predicate, seconds, what):
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            ev = events.get(timeout=max(0.1, deadline - time.time()))
        except queue.Empty:
            break
        if predicate(ev):
            return ev
    log("no event: " + what)
    return None


def cli_id(keyfile):
    r = subprocess.run([CLI, "--identity", keyfile, "--json", "id"], stdout=subprocess.PIPE, text=True, timeout=15)
    for line in r.stdout.splitlines():
        ev = json.loads(line)
        if ev.get("event") == "id":
            return ev["peer_id"]
    return None


def activate(env, action, param):
    subprocess.run(["gdbus", "call", "--session", "--dest", "io.github.punchline.Punchline",
                    "--object-path", "/io/github/punchline/Punchline", "--method", "org.gtk.Actions.Activate",
                    action, "[<%s>]" % param, "{}"], env=env, timeout=10, stdout=subprocess.DEVNULL)


def services_section(text):
    """The text of the peer detail's Services section (GLib puts a
    no-break space between a size and its unit)."""
    text = text.replace("\u00a0", " ")
    if "\nServices\n" not in text:
        return ""
    return text.split("\nServices\n", 1)[1].split("\nRound-Trip Times\n", 1)[0]


def dump_peer(env, tmp, peer_id):
    path = os.path.join(tmp, "dump.txt")
    if os.path.exists(path):
        os.unlink(path)
    run_app(env, "--peer", peer_id, "--dump", path)
    try:
        with open(path, encoding="utf-8") as f:
            return f.read()
    except FileNotFoundError:
        return ""


def wait_section(env, tmp, peer_id, predicate, seconds, what):
    deadline = time.time() + seconds
    section = ""
    while time.time() < deadline:
        section = services_section(dump_peer(env, tmp, peer_id))
        if os.environ.get("PUNCH_UI_VERBOSE") == "1":
            log("%s: %s" % (what, section.replace("\n", " | ")))
        if predicate(section):
            return section
        time.sleep(0.5)
    log("last Services section for '%s':\n%s" % (what, section))
    return None


def recv_exactly(sock, n):
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            break
        data += chunk
    return data


def check_services(env, tmp, suffix):
    """A friend (punchline-cli listen --expose) shares an echo service with
    the app: the app lists it, opens a local port, the bytes through it are
    counted live; the app exposes a web server of its own to a second friend
    (punchline-cli forward), whose bytes it counts too."""
    echo = serve_in_thread(socketserver.ThreadingTCPServer(("127.0.0.1", 0), EchoHandler))
    webroot = os.path.join(tmp, "www")
    os.makedirs(webroot)
    with open(os.path.join(webroot, "hello.txt"), "w") as f:
        f.write("hello through the punched path\n")
    web = serve_in_thread(ThreadingHTTPServer(("127.0.0.1", 0), lambda *a, **k: QuietHTTPHandler(*a, directory=webroot, **k)))
    try:
        overview = dump(env, tmp, "overview")
        ids = [l for l in overview.splitlines() if re.fullmatch(r"12D3KooW[1-9A-HJ-NP-Za-km-z]{44}", l)]
        app_addrs = [l for l in overview.splitlines()
                     if l.startswith("/ip4/127.0.0.1/tcp/") and "/p2p-circuit" not in l]
        if not check(ids and app_addrs, "overview shows the app's peer ID and a loopback address"):
            return
        app_id = ids[0]

        # Our own web server, for a second friend only (deny by default).
        friend2_key = os.path.join(tmp, "friend2.key")
        friend2_id = cli_id(friend2_key)
        activate(env, "expose-service", "('web', '127.0.0.1:%d', ['%s'])" % (web.server_address[1], friend2_id))

        friend_key = os.path.join(tmp, "friend.key")
        friend_id = cli_id(friend_key)
        friend, friend_events = start_cli(["--identity", friend_key, "listen", "--listen", "/ip4/127.0.0.1/tcp/0",
                                           "--expose", "echo=127.0.0.1:%d" % echo.server_address[1],
                                           "--allow", app_id])
        listening = wait_event(friend_events, lambda e: e.get("event") == "listening", 15, "friend listening")
        if not check(listening is not None and friend_id, "a friend exposing an echo service starts"):
            return
        run_app(env, "--connect", listening["addrs"][0])

        section = wait_section(env, tmp, friend_id, lambda t: "\necho\n" in t and "[button] Listen on a free port" in t,
                               30, "friend's service")
        check(section is not None, "the peer detail lists the service the friend shares with us, to open")
        # Deny by default: the first friend may not use "web".
        check(section is not None and "\nweb\n" in section and "[switch] off" in section
              and "[switch] on" not in section, "our service is listed for the first friend, switched off")

        activate(env, "open-local-port", "('%s', 'echo')" % friend_id)
        section = wait_section(env, tmp, friend_id, lambda t: re.search(r"^127\.0\.0\.1:\d+$", t, re.M), 15,
                               "local port")
        if not check(section is not None, "Open Local Port shows the local address, with a copy button"):
            return
        check("[button] Copy local address" in section, "the local address has a copy button")
        local_port = int(re.search(r"^127\.0\.0\.1:(\d+)$", section, re.M).group(1))

        payload = os.urandom(100 * 1024)
        sock = socket.create_connection(("127.0.0.1", local_port), timeout=15)
        sock.sendall(payload)
        echoed = recv_exactly(sock, len(payload))
        check(echoed == payload, "100 KiB echoed through the forwarded port, byte for byte")
        section = wait_section(env, tmp, friend_id,
                               lambda t: "1 connection · 1 open · 100.0 KiB sent · 100.0 KiB received" in t, 15,
                               "live bytes")
        check(section is not None, "live: 1 open connection, 100.0 KiB each way")
        screenshot(env, "peers-services" + suffix)
        sock.close()
        section = wait_section(env, tmp, friend_id,
                               lambda t: "1 connection · 0 open · 100.0 KiB sent · 100.0 KiB received" in t, 15,
                               "closed")
        check(section is not None, "after close: 1 connection, 0 open, the bytes still counted")

        # Our own service, exposed to a second friend who forwards to it.
        fwd, fwd_events = start_cli(["--identity", friend2_key, "forward", app_addrs[0], "web",
                                     "--local", "127.0.0.1:0"])
        forwarding = wait_event(fwd_events, lambda e: e.get("event") == "forwarding", 20, "forwarding")
        if not check(forwarding is not None, "a second friend forwards a local port to the app's service"):
            return
        with urllib.request.urlopen("http://%s/hello.txt" % forwarding["local"], timeout=15) as r:
            body = r.read()
        check(body == b"hello through the punched path\n", "HTTP through the app's exposed service")
        done = wait_event(fwd_events, lambda e: e.get("event") == "forward", 15, "forward event")
        if not check(done is not None and done["outcome"] == "ok", "the friend's forward ends ok"):
            return

        def size(n):
            return "1 byte" if n == 1 else "%d bytes" % n if n < 1024 else None
        expected = "1 connection · 0 open · %s sent · %s received" % (size(done["bytes_in"]), size(done["bytes_out"]))
        section = wait_section(env, tmp, friend2_id, lambda t: "\nweb\n" in t and expected in t, 15, "inbound bytes")
        check(section is not None, "the app counts the bytes its service sent and received: " + expected)
        if section:
            check("[switch] on" in section, "the switch shows the second friend allowed")
        fwd.send_signal(signal.SIGTERM)
        friend.send_signal(signal.SIGTERM)
    finally:
        echo.shutdown()
        web.shutdown()


PUNCH = "--punch" in sys.argv
PUNCH_IP = "198.18.77.1"


def setup_namespace():
    """Gives our own (empty) network namespace a 'public' address."""
    try:
        subprocess.run(["ip", "link", "set", "lo", "up"], check=True, timeout=10)
        subprocess.run(["ip", "addr", "add", PUNCH_IP + "/32", "dev", "lo"], check=True, timeout=10)
    except (OSError, subprocess.CalledProcessError) as e:
        print("1..0 # SKIP cannot configure the namespace: %s" % e)
        sys.exit(77)
    r = subprocess.run(["ip", "-o", "link"], stdout=subprocess.PIPE, text=True, timeout=10)
    if any(" eth" in l or " en" in l or " wl" in l for l in r.stdout.splitlines()):
        print("1..0 # SKIP not in a network namespace of our own (run under unshare -rn)")
        sys.exit(77)


def main():
    os.makedirs(SHOTS, exist_ok=True)
    if PUNCH:
        setup_namespace()
    suffix = ("-punch" if PUNCH else "") + os.environ.get("PUNCH_UI_SHOT_SUFFIX", "")
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
    # Under ASan, fontconfig, GTK and Mesa keep caches for the life of the
    # process, which LeakSanitizer reports at exit (2,000+ allocations, none
    # ours). Leaks stay fatal for everything else the UI test runs (the
    # peers) and for every core test; memory errors stay fatal in the app.
    if "ASAN_OPTIONS" in env:
        env["ASAN_OPTIONS"] = env["ASAN_OPTIONS"].replace("detect_leaks=1", "detect_leaks=0")
    # G_DEBUG=fatal-warnings from the test environment stays: a warning in
    # the app ends it, and the test fails. PUNCH_UI_NO_FATAL=1 relaxes that
    # when hunting for what the UI shows despite a warning.
    if os.environ.get("PUNCH_UI_NO_FATAL") == "1":
        env.pop("G_DEBUG", None)
    # PUNCH_UI_APP_DEBUG=1: the app's debug messages go to its log (kept
    # with PUNCH_UI_KEEP_TMP=1).
    if os.environ.get("PUNCH_UI_APP_DEBUG") == "1":
        env["G_MESSAGES_DEBUG"] = "all"

    peers = subprocess.Popen([PEERS, PUNCH_IP if PUNCH else "127.0.0.1"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    procs.append(peers)
    world = json.loads(peers.stdout.readline())
    log("world: " + json.dumps(world))

    listen = "/ip4/0.0.0.0/tcp/0" if PUNCH else "/ip4/127.0.0.1/tcp/0"
    app_log = open(os.path.join(tmp, "app.log"), "w")
    app = subprocess.Popen([APP, "--no-saved-relays", "--relay", world["relay"], "--listen", listen],
                           env=env, stderr=app_log,
                           stdout=app_log if "G_MESSAGES_DEBUG" in env else subprocess.DEVNULL)
    procs.append(app)
    if not check(wait_primary(env, 20), "the app starts and owns its D-Bus name"):
        return 1

    # The relay row reaches "Reserved", with a countdown and limits.
    text = wait_dump(env, tmp, "relays", lambda t: "\nReserved\n" in t, 30, "reserved")
    check(text is not None, "relay row reaches Reserved")
    if text:
        check("expires in" in text and "voucher valid" in text, "reservation row shows expiry countdown and voucher")
    screenshot(env, "relays" + suffix)

    text = wait_dump(env, tmp, "overview", lambda t: "/p2p-circuit/p2p/" in t and "Reachable through 1 relay" in t, 15,
                     "overview")
    check(text is not None, "overview lists a relayed address and the reachability summary")
    screenshot(env, "overview" + suffix)

    # A bad address shows the error and connects nowhere.
    run_app(env, "--connect", "/ip4/10.1.2.3/tcp/4001")
    text = wait_dump(env, tmp, "peers", lambda t: "must end in /p2p/" in t, 10, "bad address")
    check(text is not None, "connect dialog shows the error for a bad address")
    screenshot(env, "connect-error" + suffix)
    if text:
        check("No peers yet" in text, "a bad address connects nowhere")

    # Through the relay: the dialog connects, the peers panel shows Relayed.
    run_app(env, "--connect", world["relayed"])
    # With --punch the path may already be direct: the relayed start then
    # shows in the event log.
    text = wait_dump(env, tmp, "peers",
                     lambda t: ("Relayed via" in t or "Punching…" in t or "Path none → relayed" in t)
                     and "samples=0" not in t, 30, "relayed")
    check(text is not None, "peers panel shows the friend relayed, with RTT samples")
    if not PUNCH:
        # The relay's default limits (2 min, 128 KiB each way): what is left.
        text = wait_dump(env, tmp, "peers", lambda t: "the relay allows" in t, 10, "relay budget")
        check(text is not None and re.search(r"the relay allows 1[0-2]\d\.\d\sKiB more each way, until \d\d:\d\d", text),
              "peer detail shows what the relay still allows on the relayed connection")
    screenshot(env, "peers-relayed" + suffix)

    # Then directly: by a hole punch (--punch), or by dialling the friend's
    # direct address (loopback is no public address, so DCUtR cannot).
    if not PUNCH:
        run_app(env, "--connect", world["direct"])
    text = wait_dump(env, tmp, "peers", lambda t: "\nDirect\n" in t and "1 of 1 peer direct" in t, 30, "direct")
    check(text is not None, "peers panel shows Direct and '1 of 1 peer direct'")
    if text:
        check("Path relayed → direct" in text or "Path punching → direct" in text, "timeline shows relayed → direct")
    text = wait_dump(env, tmp, "peers", lambda t: "[chart]" in t and " direct " in t.split("[chart]")[1].split("\n")[0],
                     15, "direct samples")
    check(text is not None, "RTT chart has direct samples")
    time.sleep(2.5)
    screenshot(env, "peers-direct" + suffix)

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
        if PUNCH:
            # The friend accepted our relayed connection (DCUtR role B) and,
            # seeing a public address of ours, dialled it: connection reversal.
            check(any(not c["relayed"] and c["direction"] == "inbound" for c in conns),
                  "the direct connection came from the friend's DCUtR (inbound)")
        friend = [p for p in report["peers"] if p["peer_id"] == world["friend"]]
        check(friend and friend[0]["path"] == "direct", "report says the friend is direct")
        check("private" not in json.dumps(report).lower(), "report carries no private key")

    if not PUNCH:
        check_services(env, tmp, suffix)

    # Preferences, as a person opens them from the menu.
    subprocess.run(["gdbus", "call", "--session", "--dest", "io.github.punchline.Punchline",
                    "--object-path", "/io/github/punchline/Punchline", "--method", "org.gtk.Actions.Activate",
                    "preferences", "[]", "{}"], env=env, timeout=10, stdout=subprocess.DEVNULL)
    text = wait_dump(env, tmp, None, lambda t: "Reset identity" in t and "Listen port" in t, 10, "preferences")
    check(text is not None, "preferences show relays, listen port and identity")
    check(text is not None and "Security protocols" in text and "Noise, then TLS" in text,
          "preferences show the security order, Noise then TLS by default")
    screenshot(env, "preferences" + suffix)

    if not PUNCH:
        run_app(env, "--page", "services")
        text = wait_dump(env, tmp, None, lambda t: "Exposed Services" in t and "\nweb\n" in t, 10, "services page")
        check(text is not None and "1 peer allowed" in text,
              "preferences list the exposed service and how many peers may use it")
        screenshot(env, "preferences-services" + suffix)

    run_app(env, "--quit")
    try:
        app.wait(15)
        check(app.returncode == 0, "app quits cleanly")
        if app.returncode != 0:
            with open(os.path.join(tmp, "app.log")) as f:
                log("app exited with %d; the end of its log:\n%s" % (app.returncode, "".join(f.readlines()[-40:])))
    except subprocess.TimeoutExpired:
        check(False, "app quits within 15 s")
    peers.stdin.close()
    cleanup()
    if os.environ.get("PUNCH_UI_KEEP_TMP") == "1":
        log("kept " + tmp)
    else:
        shutil.rmtree(tmp, ignore_errors=True)
    return 1 if failures else 0


def enter_namespace():
    """Re-runs this script in a user and network namespace of its own, with
    a private D-Bus session bus inside (abstract sockets are per namespace)."""
    if os.environ.get("PUNCH_UI_IN_NS") == "1":
        return
    probe = subprocess.run(["unshare", "-rn", "true"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if probe.returncode != 0 or shutil.which("dbus-run-session") is None:
        print("1..0 # SKIP no network namespace (unshare -rn) or no dbus-run-session")
        sys.exit(77)
    os.environ["PUNCH_UI_IN_NS"] = "1"
    os.execvp("unshare", ["unshare", "-rn", "--", "dbus-run-session", "--", sys.executable,
                          os.path.abspath(__file__), "--punch"])


if __name__ == "__main__":
    if PUNCH:
        enter_namespace()
    try:
        status = main()
    finally:
        cleanup()
    sys.exit(status)
