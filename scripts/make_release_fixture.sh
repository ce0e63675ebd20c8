#!/usr/bin/env bash
# Makes the upgrade-test fixtures of a released schema: a SQLite data directory and a
# PostgreSQL dump written by that release's own binary, exercising drafts (through the
# drill and through the HTTP workflow, so headlines are stored), deliveries, a retraction,
# a live session, a sandbox and a real account, and signed audit checkpoints.
#
#   scripts/make_release_fixture.sh OLD_TOCSIN_BINARY OLD_CHECKOUT OUT_DIR
#
# OLD_TOCSIN_BINARY is `tocsin` built from the release's commit (git worktree add ... <rev>;
# cargo build -p tocsin), OLD_CHECKOUT that checkout (its playbooks and templates).
# PostgreSQL at 127.0.0.1:5432 (user postgres, trust auth) is used for the dump.
set -euo pipefail
old=$(realpath "$1"); checkout=$(realpath "$2"); mkdir -p "$3"; out=$(realpath "$3")
work=$(mktemp -d); trap 'kill ${server:-0} 2>/dev/null || true; rm -rf "$work"' EXIT
cp -r "$checkout/playbooks" "$checkout/templates" "$work/"
export TOCSIN_SECRET_KEY="AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
export TOCSIN_AUDIT__CHECKPOINT_EVERY_ENTRIES=10
populate() {
  local dir=$1
  cd "$dir"
  secret_dana=$(echo 'a long passphrase for the fixture' | $old users add dana --role drafter --password-stdin | sed -n 's/^ *secret: //p')
  secret_sam=$(echo 'another long passphrase for it' | $old users add sam --role approver --password-stdin | sed -n 's/^ *secret: //p')
  $old playbooks approve boil-water --by "fixture reviewer" >/dev/null
  printf '123456789:canary-fixture-token' | $old accounts add --platform telegram --handle @county_alerts \
    --name "County alerts" --setting chat_id=-1001234567890 --secret-stdin >/dev/null
  $old drill boil-water --retract >/dev/null
  $old drill live-procedure --step intro --step update >/dev/null
  # One draft through the HTTP workflow (stores its headline), approved as an exercise.
  $old serve --listen 127.0.0.1:0 > serve.out 2>&1 & server=$!
  for _ in $(seq 1 100); do grep -q 'is listening' serve.out && break; sleep 0.2; done
  base=$(sed -n 's/.*is listening: open \(http[^ ]*\)\/.*/\1/p' serve.out)
  python3 - "$base" "$secret_dana" "$secret_sam" <<'PY'
import base64, hashlib, hmac, json, struct, sys, time, urllib.request, http.cookiejar
base, dana, sam = sys.argv[1:]
def code(secret):
    key = base64.b32decode(secret + "=" * (-len(secret) % 8))
    mac = hmac.new(key, struct.pack(">Q", int(time.time()) // 30), hashlib.sha1).digest()
    o = mac[-1] & 15
    return "%06d" % ((struct.unpack(">I", mac[o:o + 4])[0] & 0x7FFFFFFF) % 1000000)
def opener():
    return urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
def call(o, method, path, body=None):
    req = urllib.request.Request(base + path, method=method, data=None if body is None else json.dumps(body).encode(),
                                 headers={"content-type": "application/json"})
    return json.loads(o.open(req).read() or b"null")
d = opener(); call(d, "POST", "/api/session", {"name": "dana", "password": "a long passphrase for the fixture", "code": code(dana)})
detail = call(d, "GET", "/api/playbooks/boil-water")
values = {v["name"]: v["example"] for v in detail["variables"] if v.get("example")}
draft = call(d, "POST", "/api/drafts", {"playbook": "boil-water", "step": detail["steps"][0]["id"], "values": values, "exercise": True})
call(d, "POST", f"/api/drafts/{draft['id']}/submit")
time.sleep(31)  # a fresh TOTP step for the second person
s = opener(); call(s, "POST", "/api/session", {"name": "sam", "password": "another long passphrase for it", "code": code(sam)})
view = call(s, "GET", f"/api/drafts/{draft['id']}")
call(s, "POST", f"/api/drafts/{draft['id']}/approve", {"reviewed_hash": view["hash"]})
PY
  sleep 2; kill $server; wait $server 2>/dev/null || true; server=
  $old audit verify >/dev/null
}
mkdir -p "$out"
# SQLite.
mkdir "$work/sqlite" && cp -r "$work/playbooks" "$work/templates" "$work/sqlite/"
populate "$work/sqlite"
mkdir -p "$out/sqlite"
sqlite3 "$work/sqlite/data/tocsin.db" 'PRAGMA wal_checkpoint(TRUNCATE);' >/dev/null
cp "$work/sqlite/data/tocsin.db" "$work/sqlite/data/audit-signing.key" "$out/sqlite/"
cp "$work/sqlite/data/audit-checkpoint.txt" "$out/sqlite/" 2>/dev/null || true
# PostgreSQL.
db="tocsin_fixture_$$"
psql -h 127.0.0.1 -U postgres -d test -qc "CREATE DATABASE $db" >/dev/null
mkdir "$work/pg" && cp -r "$work/playbooks" "$work/templates" "$work/pg/"
TOCSIN_DATABASE__URL="postgres://postgres@127.0.0.1:5432/$db" populate "$work/pg"
mkdir -p "$out/postgres"
pg_dump -h 127.0.0.1 -U postgres --no-owner --no-privileges --inserts "$db" | grep -v '^\\' > "$out/postgres/dump.sql"
cp "$work/pg/data/audit-signing.key" "$out/postgres/"
cp "$work/pg/data/audit-checkpoint.txt" "$out/postgres/" 2>/dev/null || true
psql -h 127.0.0.1 -U postgres -d test -qc "DROP DATABASE $db" >/dev/null
echo "fixtures in $out"
