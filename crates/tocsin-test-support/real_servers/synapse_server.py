"""A real Matrix homeserver for Tocsin's tests: Synapse (PyPI `matrix-synapse`) on loopback.

Usage: synapse_server.py DATA_DIR   (run with the Python of the venv Synapse is installed in)

Writes a homeserver config for SQLite and a loopback-only client listener on a port the
kernel picks, starts Synapse, registers three users with the shared secret (an admin, the
bot Tocsin posts as, and a "flood" user kept to a low message rate), creates a room with
the server's default room version and joins the bot and the flood user to it, creates a
second room the bot is not in, and prints one JSON line saying all of it. Stops Synapse
when its standard input closes. Synapse's own log goes to DATA_DIR/synapse.log.
"""

import hashlib
import hmac
import json
import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

SERVER_NAME = "tocsin.test"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_config(data: str, port: int, shared_secret: str) -> str:
    from signedjson.key import generate_signing_key, write_signing_keys

    key_path = os.path.join(data, "signing.key")
    with open(key_path, "w") as f:
        write_signing_keys(f, [generate_signing_key("a_tocsin")])
    log_config = os.path.join(data, "log.yaml")
    with open(log_config, "w") as f:
        f.write(
            "version: 1\n"
            "formatters: {plain: {format: '%(asctime)s %(name)s %(levelname)s %(message)s'}}\n"
            "handlers:\n"
            "  file: {class: logging.FileHandler, formatter: plain, filename: "
            + json.dumps(os.path.join(data, "synapse.log"))
            + "}\n"
            "root: {level: WARNING, handlers: [file]}\n"
            "disable_existing_loggers: false\n"
        )
    config = {
        "server_name": SERVER_NAME,
        "pid_file": os.path.join(data, "homeserver.pid"),
        "listeners": [
            {
                "port": port,
                "bind_addresses": ["127.0.0.1"],
                "type": "http",
                "tls": False,
                "x_forwarded": False,
                "resources": [{"names": ["client"], "compress": False}],
            }
        ],
        "database": {"name": "sqlite3", "args": {"database": os.path.join(data, "homeserver.db")}},
        "log_config": log_config,
        "media_store_path": os.path.join(data, "media"),
        "signing_key_path": key_path,
        "registration_shared_secret": shared_secret,
        "macaroon_secret_key": secrets.token_hex(16),
        "form_secret": secrets.token_hex(16),
        "report_stats": False,
        "trusted_key_servers": [],
        "suppress_key_server_warning": True,
        "enable_metrics": False,
        "url_preview_enabled": False,
        "presence": {"enabled": False},
        # A low message rate for everyone; the admin and the bot are exempted below
        # (per-user overrides), so only the "flood" user meets it.
        "rc_message": {"per_second": 0.1, "burst_count": 3},
        "rc_registration": {"per_second": 100, "burst_count": 100},
        "rc_login": {
            "address": {"per_second": 100, "burst_count": 100},
            "account": {"per_second": 100, "burst_count": 100},
            "failed_attempts": {"per_second": 100, "burst_count": 100},
        },
        "rc_joins": {
            "local": {"per_second": 100, "burst_count": 100},
            "remote": {"per_second": 100, "burst_count": 100},
        },
    }
    path = os.path.join(data, "homeserver.yaml")
    with open(path, "w") as f:
        json.dump(config, f)  # JSON is YAML
    return path


def call(base: str, method: str, path: str, body=None, token=None):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(base + path, data=data, method=method)
    request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", "Bearer " + token)
    with urllib.request.urlopen(request, timeout=30) as answer:
        return json.loads(answer.read() or b"{}")


def register(base: str, shared_secret: str, user: str, password: str, admin: bool) -> dict:
    nonce = call(base, "GET", "/_synapse/admin/v1/register")["nonce"]
    mac = hmac.new(shared_secret.encode(), digestmod=hashlib.sha1)
    mac.update(b"\x00".join([nonce.encode(), user.encode(), password.encode(), b"admin" if admin else b"notadmin"]))
    return call(
        base,
        "POST",
        "/_synapse/admin/v1/register",
        {"nonce": nonce, "username": user, "password": password, "admin": admin, "mac": mac.hexdigest()},
    )


def main() -> None:
    if len(sys.argv) != 2:
        sys.exit("usage: synapse_server.py DATA_DIR")
    data = sys.argv[1]
    os.makedirs(data, exist_ok=True)
    port = free_port()
    shared_secret = secrets.token_hex(16)
    config = write_config(data, port, shared_secret)
    out = open(os.path.join(data, "synapse.out"), "w")
    synapse = subprocess.Popen(
        [sys.executable, "-m", "synapse.app.homeserver", "-c", config],
        stdout=out,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            if synapse.poll() is not None:
                sys.exit(f"synapse exited with {synapse.returncode}; see {data}/synapse.out")
            try:
                with urllib.request.urlopen(base + "/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except (urllib.error.URLError, ConnectionError, OSError):
                pass
            if time.monotonic() > deadline:
                sys.exit("synapse did not answer /health within 120 s")
            time.sleep(0.2)
        admin = register(base, shared_secret, "admin", "admin-" + secrets.token_hex(8), True)
        bot_password = "bot-" + secrets.token_hex(8)
        bot = register(base, shared_secret, "tocsin", bot_password, False)
        flood = register(base, shared_secret, "flood", "flood-" + secrets.token_hex(8), False)
        admin_token = admin["access_token"]
        for user in (admin["user_id"], bot["user_id"]):
            call(
                base,
                "POST",
                f"/_synapse/admin/v1/users/{urllib.parse.quote(user)}/override_ratelimit",
                {"messages_per_second": 0, "burst_count": 0},
                admin_token,
            )
        version = call(base, "GET", "/_synapse/admin/v1/server_version", token=admin_token)
        room = call(
            base,
            "POST",
            "/_matrix/client/v3/createRoom",
            {"preset": "private_chat", "name": "Tocsin alerts", "invite": [bot["user_id"], flood["user_id"]]},
            admin_token,
        )["room_id"]
        other = call(
            base, "POST", "/_matrix/client/v3/createRoom", {"preset": "private_chat", "name": "Not Tocsin's"}, admin_token
        )["room_id"]
        for member in (bot, flood):
            call(base, "POST", f"/_matrix/client/v3/join/{urllib.parse.quote(room)}", {}, member["access_token"])
        room_version = call(
            base,
            "GET",
            f"/_matrix/client/v3/rooms/{urllib.parse.quote(room)}/state/m.room.create/",
            token=admin_token,
        ).get("room_version", "1")
        print(
            json.dumps(
                {
                    "base_url": base,
                    "server_name": SERVER_NAME,
                    "synapse_version": version.get("server_version", ""),
                    "synapse_pid": synapse.pid,
                    "admin_token": admin_token,
                    "bot_user": bot["user_id"],
                    "bot_password": bot_password,
                    "bot_token": bot["access_token"],
                    "flood_token": flood["access_token"],
                    "room_id": room,
                    "room_version": room_version,
                    "other_room_id": other,
                }
            ),
            flush=True,
        )
        sys.stdin.read()
    finally:
        synapse.terminate()
        try:
            synapse.wait(timeout=10)
        except subprocess.TimeoutExpired:
            synapse.kill()


if __name__ == "__main__":
    main()
