//! The OpenAPI 3.1 description of the JSON API, served at `/api/openapi.json`. It is
//! built from [`OPERATIONS`], the same table the tests walk to check that every listed
//! operation is routed (and that every route is listed).

use axum::extract::State;
use serde_json::{json, Map, Value};

use super::error::Json;
use super::WebState;

/// One operation: method, path (OpenAPI style), summary, tag, who may call it, and the
/// name of its request body schema (if it takes one).
pub type Operation = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    Option<&'static str>,
);

/// Every operation of the API.
pub const OPERATIONS: &[Operation] = &[
    (
        "post",
        "/api/session",
        "Sign in (name, password, TOTP code); sets the session cookie",
        "session",
        "anyone",
        Some("SignIn"),
    ),
    (
        "delete",
        "/api/session",
        "Sign out",
        "session",
        "signed in",
        None,
    ),
    (
        "get",
        "/api/me",
        "The signed-in user, role and permissions",
        "session",
        "signed in",
        None,
    ),
    (
        "post",
        "/api/session/reauthenticate",
        "Password and code again (opens the re-authentication window)",
        "session",
        "signed in",
        Some("Reauthenticate"),
    ),
    (
        "post",
        "/api/me/password",
        "Change one's own password (with the current one; other sessions end)",
        "session",
        "signed in",
        Some("ChangePassword"),
    ),
    (
        "post",
        "/api/me/second-factor",
        "A new second factor to scan (re-authenticated); pending until confirmed",
        "session",
        "signed in",
        None,
    ),
    (
        "post",
        "/api/me/second-factor/confirm",
        "Confirm the new second factor with a code from it",
        "session",
        "signed in",
        Some("Code"),
    ),
    (
        "post",
        "/api/enrolment/start",
        "Open a one-time enrolment link: a new second factor to scan (QR code as SVG)",
        "session",
        "anyone",
        Some("EnrolmentToken"),
    ),
    (
        "post",
        "/api/enrolment/complete",
        "Finish enrolling: one's own password and a code from the new factor",
        "session",
        "anyone",
        Some("CompleteEnrolment"),
    ),
    (
        "get",
        "/api/demo",
        "Demo users and their current codes (demo servers only)",
        "session",
        "anyone",
        None,
    ),
    (
        "get",
        "/api/playbooks",
        "Playbooks with their pre-approval state",
        "playbooks",
        "viewer",
        None,
    ),
    (
        "get",
        "/api/playbooks/{id}",
        "A playbook with its typed form",
        "playbooks",
        "viewer",
        None,
    ),
    (
        "post",
        "/api/playbooks/{id}/preview",
        "Every target platform's exact text, counted and checked",
        "playbooks",
        "viewer",
        Some("PreviewRequest"),
    ),
    (
        "post",
        "/api/playbooks/{id}/card",
        "A step's alert card drawn with these values: a PNG data URL and its alt text",
        "playbooks",
        "viewer",
        Some("CardRequest"),
    ),
    (
        "get",
        "/api/drafts",
        "Drafts, newest first (filter by state)",
        "drafts",
        "viewer",
        None,
    ),
    (
        "post",
        "/api/drafts",
        "Create a draft from a playbook step",
        "drafts",
        "drafter",
        Some("CreateDraft"),
    ),
    (
        "get",
        "/api/drafts/{id}",
        "A draft with its text, hash and blockers",
        "drafts",
        "viewer",
        None,
    ),
    (
        "put",
        "/api/drafts/{id}",
        "Change a draft's values",
        "drafts",
        "its drafter",
        Some("EditDraft"),
    ),
    (
        "post",
        "/api/drafts/{id}/submit",
        "Ask for approval",
        "drafts",
        "its drafter",
        None,
    ),
    (
        "post",
        "/api/drafts/{id}/request-changes",
        "Send a draft back with a reason",
        "drafts",
        "approver",
        Some("Reason"),
    ),
    (
        "post",
        "/api/drafts/{id}/approve",
        "Approve the reviewed text (two-person rule) and publish",
        "drafts",
        "approver, not the drafter",
        Some("Approve"),
    ),
    (
        "post",
        "/api/drafts/{id}/break-glass",
        "Publish alone in an emergency (queued for compliance review)",
        "drafts",
        "approver, re-authenticated",
        Some("BreakGlass"),
    ),
    (
        "post",
        "/api/drafts/{id}/withdraw",
        "Abandon a draft",
        "drafts",
        "its drafter",
        None,
    ),
    (
        "get",
        "/api/messages",
        "Published messages with delivery counts",
        "messages",
        "viewer",
        None,
    ),
    (
        "get",
        "/api/messages/{id}",
        "A message with one row per account",
        "messages",
        "viewer",
        None,
    ),
    (
        "post",
        "/api/images",
        "Upload an image as the raw request body (PNG, JPEG, WebP or GIF, read from its content; 10 MB; 8,000 px a side, 40 megapixels): checked, stripped of metadata, stored by SHA-256; answers sha256, media_type, width, height, bytes",
        "drafts",
        "drafter",
        None,
    ),
    (
        "get",
        "/api/images/{sha256}",
        "A stored image, served as its stored type with nosniff (for previews)",
        "drafts",
        "viewer",
        None,
    ),
    (
        "get",
        "/api/sandbox/{account}/{post}",
        "What a sandbox account received (text, headline, reply, deleted): the sandbox post page",
        "messages",
        "viewer",
        None,
    ),
    (
        "post",
        "/api/messages/{id}/retract",
        "Delete everywhere (the playbook's withdrawal notice where a platform cannot delete); a correction is a draft with `corrects`",
        "messages",
        "approver",
        Some("Retract"),
    ),
    (
        "post",
        "/api/messages/{id}/follow-up",
        "Start a draft of a step of the same playbook, with the same values and targets ({\"step\"})",
        "messages",
        "drafter",
        None,
    ),
    (
        "post",
        "/api/messages/{id}/deliveries/{account_id}/retry",
        "Queue a failed delivery again",
        "messages",
        "approver",
        None,
    ),
    (
        "post",
        "/api/messages/{id}/review",
        "Record the compliance review of a break-glass publish",
        "messages",
        "compliance",
        Some("Review"),
    ),
    (
        "get",
        "/api/reviews",
        "Break-glass messages awaiting review",
        "messages",
        "compliance",
        None,
    ),
    (
        "post",
        "/api/messages/{id}/schedules",
        "Repeat a message every N minutes (until a time)",
        "messages",
        "approver",
        Some("AddSchedule"),
    ),
    (
        "get",
        "/api/schedules",
        "Recurring repeats",
        "messages",
        "viewer",
        None,
    ),
    (
        "post",
        "/api/schedules/{id}/cancel",
        "Stop a recurring repeat",
        "messages",
        "approver",
        None,
    ),
    (
        "get",
        "/api/calendar",
        "What goes out in a window of days (query from=RFC 3339, days=1..42): posts approved for later and the runs of recurring repeats",
        "messages",
        "viewer",
        None,
    ),
    (
        "post",
        "/api/messages/{id}/cancel",
        "Cancel a post approved for later, before its time (its waiting deliveries; audited as message.cancel)",
        "messages",
        "approver",
        None,
    ),
    (
        "get",
        "/api/sessions",
        "Live sessions",
        "sessions",
        "viewer",
        None,
    ),
    (
        "post",
        "/api/sessions",
        "Start a live session under a hashtag",
        "sessions",
        "drafter",
        Some("CreateSession"),
    ),
    (
        "get",
        "/api/sessions/{id}",
        "A live session with its posts and each account's thread",
        "sessions",
        "viewer",
        None,
    ),
    (
        "get",
        "/api/consents",
        "The consent register",
        "consent",
        "compliance",
        None,
    ),
    (
        "post",
        "/api/consents",
        "Record a signed consent",
        "consent",
        "compliance",
        Some("AddConsent"),
    ),
    (
        "post",
        "/api/consents/{reference}/revoke",
        "Record that consent was withdrawn",
        "consent",
        "compliance",
        Some("Reason"),
    ),
    (
        "get",
        "/api/audit",
        "Audit entries, filtered and paged",
        "audit",
        "compliance, approver",
        None,
    ),
    (
        "get",
        "/api/messages/{id}/story",
        "One message's whole story from the audit log: drafted, reviewed, approved, each delivery, retraction and corrections",
        "audit",
        "compliance",
        None,
    ),
    (
        "get",
        "/api/audit/facets",
        "What the audit filters offer: actors and actions of the newest entries, the library's playbooks",
        "audit",
        "compliance",
        None,
    ),
    (
        "get",
        "/api/audit/export",
        "Export (JSONL with signed checkpoints, or CSV)",
        "audit",
        "compliance",
        None,
    ),
    (
        "get",
        "/api/audit/verify",
        "Verify the live hash chain",
        "audit",
        "compliance, approver",
        None,
    ),
    ("get", "/api/users", "Users", "admin", "admin", None),
    (
        "post",
        "/api/users",
        "Add a user (answers their one-time enrolment link, never a secret)",
        "admin",
        "admin, re-authenticated",
        Some("AddUser"),
    ),
    (
        "post",
        "/api/users/{name}/role",
        "Change a role",
        "admin",
        "admin, re-authenticated",
        Some("SetRole"),
    ),
    (
        "post",
        "/api/users/{name}/disable",
        "Disable a user (ends their sessions)",
        "admin",
        "admin, re-authenticated",
        None,
    ),
    (
        "post",
        "/api/users/{name}/reset-totp",
        "Remove a user's second factor (ends their sessions); answers a new enrolment link",
        "admin",
        "admin, re-authenticated",
        None,
    ),
    (
        "get",
        "/api/accounts",
        "Platform accounts with their status, circuit breaker and whether a secret is stored (never the secret)",
        "admin",
        "viewer",
        None,
    ),
    (
        "post",
        "/api/accounts",
        "Add a sandbox account, or a platform account with its settings and secret (checked by its connector, stored sealed, connected at once)",
        "admin",
        "admin, re-authenticated",
        Some("AddAccount"),
    ),
    (
        "get",
        "/api/accounts/platforms",
        "What connecting each platform's account takes: its settings with examples, and its secret",
        "admin",
        "viewer",
        None,
    ),
    (
        "post",
        "/api/accounts/quotas",
        "Each account's publishing quota read from its platform now ({\"accounts\": [ids]}): used, total and window for Instagram and Threads, with a summary; platforms without one are left out",
        "admin",
        "viewer",
        None,
    ),
    (
        "post",
        "/api/accounts/{id}/secret",
        "Replace an account's secret (checked by its connector and tried against the platform unless skip_check, stored sealed, connected again at once)",
        "admin",
        "admin, re-authenticated",
        Some("ReplaceSecret"),
    ),
    (
        "post",
        "/api/accounts/oauth/start",
        "Start connecting an account through OAuth 2 (X, LinkedIn, Facebook, Threads, Mastodon by instance URL): stores the authorisation for 10 minutes and answers the platform's authorize URL",
        "admin",
        "admin, re-authenticated",
        Some("OAuthStart"),
    ),
    (
        "get",
        "/oauth/callback",
        "Where the platform sends the browser back (code and state, or error): checked, exchanged, stored; redirects to /#/admin?connected=ID or ?oauth_error=CODE",
        "admin",
        "public",
        None,
    ),
    (
        "post",
        "/api/accounts/{id}/groups",
        "Replace an account's groups ({\"groups\": [...]}); approved messages keep their accounts",
        "admin",
        "admin",
        None,
    ),
    (
        "post",
        "/api/accounts/{id}/languages",
        "Set the languages an account posts ({\"languages\": [\"en\", \"es\"], \"posts\": \"separate\" | \"together\"}): each language's text, one post each (the next ones replying to the first) or one post where the platform's limit allows",
        "admin",
        "admin",
        None,
    ),
    (
        "post",
        "/api/accounts/{id}/disable",
        "Disable an account (out of fan-out at once; its history stays)",
        "admin",
        "admin, re-authenticated",
        None,
    ),
    (
        "post",
        "/api/sessions/{id}/end",
        "End a live session (its hashtag is no longer monitored; no new draft posts into it)",
        "sessions",
        "drafter",
        None,
    ),
    (
        "get",
        "/api/sessions/{id}/conversation",
        "The public conversation under the session's hashtag, newest first (?questions=true for questions only, ?limit=1..500)",
        "sessions",
        "viewer",
        None,
    ),
    (
        "post",
        "/api/sessions/{id}/conversation/{post_id}/question",
        "Mark a heard post for an answer, answered, or neither (audited)",
        "sessions",
        "drafter",
        Some("SetQuestion"),
    ),
    (
        "get",
        "/api/monitor",
        "This node's hashtag monitor: whether it runs and each stream's state",
        "sessions",
        "viewer",
        None,
    ),
    (
        "get",
        "/api/openapi.json",
        "This document",
        "meta",
        "anyone",
        None,
    ),
    (
        "get",
        "/feed/alerts.atom",
        "The public alert feed: Atom 1.0, the newest real alerts, each linking to its CAP 1.2 document (application/atom+xml)",
        "feed",
        "public",
        None,
    ),
    (
        "get",
        "/feed/exercise.atom",
        "The exercise feed: Atom 1.0, the newest exercise alerts (CAP status Exercise)",
        "feed",
        "public",
        None,
    ),
    (
        "get",
        "/feed/cap/{id}.xml",
        "One message's CAP 1.2 alert (application/cap+xml): Alert, Update, or Cancel for a retraction",
        "feed",
        "public",
        None,
    ),
];

fn string() -> Value {
    json!({"type": "string"})
}

fn object(required: &[&str], props: &[(&str, Value)]) -> Value {
    let mut p = Map::new();
    for (k, v) in props {
        p.insert((*k).to_string(), v.clone());
    }
    json!({"type": "object", "required": required, "properties": p, "additionalProperties": false})
}

fn schemas() -> Value {
    let values = json!({"type": "object", "additionalProperties": {"type": "string"}});
    let override_ = object(
        &["reason"],
        &[("reason", string()), ("consent_ref", string())],
    );
    let acknowledge = json!({"type": "boolean", "description": "required (409 reading_grade_unacknowledged) when a variant reads above the playbook's reading_grade_max"});
    json!({
        "SignIn": object(&["name", "password", "code"], &[("name", string()), ("password", string()), ("code", string())]),
        "Reauthenticate": object(&["password", "code"], &[("password", string()), ("code", string())]),
        "CardRequest": object(&["step"], &[("step", string()), ("values", values.clone()), ("size", json!({"type": "string", "enum": ["landscape", "instagram"]}))]),
        "PreviewRequest": object(&["step"], &[("step", string()), ("values", values.clone()), ("exercise", json!({"type": "boolean"})), ("targets", json!({"type": "object", "description": "the target set (groups, exclude_accounts, include_accounts, everyone); the step's audience when left out"})), ("session_id", json!({"type": "integer", "description": "a live session whose hashtag and fixed values fill the form's"}))]),
        "CreateDraft": object(&["playbook", "step"], &[("playbook", string()), ("step", string()), ("values", values.clone()), ("exercise", json!({"type": "boolean"})), ("session_id", json!({"type": "integer"})), ("corrects", json!({"type": "integer", "description": "the message this draft corrects: approved, it is posted as a reply wherever that message still stands"}))]),
        "EditDraft": object(&["values"], &[("values", values.clone())]),
        "Reason": object(&["reason"], &[("reason", string())]),
        "Approve": object(&["reviewed_hash"], &[("reviewed_hash", string()), ("override", override_.clone()), ("send_at", string()), ("acknowledge_reading_grade", acknowledge.clone())]),
        "BreakGlass": object(&["reviewed_hash", "reason"], &[("reviewed_hash", string()), ("reason", string()), ("override", override_), ("acknowledge_reading_grade", acknowledge)]),
        "Retract": object(&["mode", "reason"], &[("mode", json!({"enum": ["delete"], "description": "`correct` is refused (409 correction_is_a_draft): a correction is a draft with `corrects`"})), ("reason", string())]),
        "AddSchedule": object(&["every_minutes"], &[("every_minutes", json!({"type": "integer", "minimum": 15})), ("until", string()), ("first_at", string())]),
        "Review": object(&["finding"], &[("finding", string())]),
        "CreateSession": object(&["playbook", "hashtag"], &[("playbook", string()), ("hashtag", string()), ("exercise", json!({"type": "boolean"})), ("targets", json!({"type": "object", "description": "who every post goes to; the playbook's audience when left out"})), ("values", values.clone())]),
        "SetQuestion": object(&["state"], &[("state", json!({"enum": ["marked", "answered", "none"]}))]),
        "AddConsent": object(&["reference", "subject", "form_location"], &[("reference", string()), ("subject", string()), ("scope_playbooks", json!({"type": "array", "items": {"type": "string"}})), ("scope_channels", json!({"type": "array", "items": {"type": "string"}})), ("expires_at", string()), ("form_location", string())]),
        "AddUser": object(&["name", "role"], &[("name", string()), ("role", json!({"enum": ["viewer", "drafter", "approver", "compliance", "admin"]}))]),
        "EnrolmentToken": object(&["token"], &[("token", string())]),
        "CompleteEnrolment": object(&["token", "password", "code"], &[("token", string()), ("password", string()), ("code", string())]),
        "ChangePassword": object(&["current_password", "new_password"], &[("current_password", string()), ("new_password", string())]),
        "Code": object(&["code"], &[("code", string())]),
        "SetRole": object(&["role"], &[("role", json!({"enum": ["viewer", "drafter", "approver", "compliance", "admin"]}))]),
        "AddAccount": object(&["platform", "display_name"], &[("platform", json!({"enum": ["sandbox", "mastodon", "bluesky", "x", "facebook", "threads", "instagram", "linkedin", "telegram", "discord", "slack", "teams", "matrix", "email", "sms", "webhook"]})), ("stands_for", string()), ("display_name", string()), ("handle", string()), ("settings", json!({"type": "object"})), ("secret", json!({"type": "string", "writeOnly": true}))]),
        "OAuthStart": object(&["platform"], &[("platform", json!({"enum": ["x", "linkedin", "facebook", "threads", "instagram", "mastodon"]})), ("instance_url", string()), ("display_name", string()), ("handle", string()), ("settings", json!({"type": "object"})), ("account_id", json!({"type": "integer"}))]),
        "ReplaceSecret": object(&["secret"], &[("secret", json!({"type": "string", "writeOnly": true})), ("skip_check", json!({"type": "boolean"}))]),
        "Error": object(&["error"], &[("error", object(&["code", "message"], &[("code", string()), ("message", string()), ("field", string())]))]),
    })
}

/// The document.
pub fn openapi() -> Value {
    let mut paths = Map::new();
    for (method, path, summary, tag, who, body) in OPERATIONS {
        let params: Vec<Value> = path
            .split('/')
            .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.split_once('}')))
            .map(|(name, _)| name)
            .map(|name| json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}}))
            .collect();
        let mut op = json!({
            "summary": summary,
            "tags": [tag],
            "description": format!("Who: {who}."),
            "parameters": params,
            "responses": {
                "200": {"description": "OK"},
                "default": {"description": "An error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
            }
        });
        if let (true, Some(obj)) = (*who == "public", op.as_object_mut()) {
            // No session cookie needed.
            obj.insert("security".into(), json!([]));
        }
        if let (Some(name), Some(obj)) = (body, op.as_object_mut()) {
            obj.insert(
                "requestBody".into(),
                json!({"required": true, "content": {"application/json": {"schema": {"$ref": format!("#/components/schemas/{name}")}}}}),
            );
        }
        let entry = paths
            .entry((*path).to_string())
            .or_insert_with(|| Value::Object(Map::new()));
        if let Some(obj) = entry.as_object_mut() {
            obj.insert((*method).to_string(), op);
        }
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Tocsin",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Crisis and live-event broadcast coordinator. Sign in with POST /api/session; the session cookie authenticates every other call. The websocket protocol at /ws is described in the README."
        },
        "paths": paths,
        "components": {
            "schemas": schemas(),
            "securitySchemes": {"session": {"type": "apiKey", "in": "cookie", "name": "tocsin_session"}}
        },
        "security": [{"session": []}]
    })
}

/// `GET /api/openapi.json`.
pub async fn document(State(_web): State<WebState>) -> Json<Value> {
    Json(openapi())
}
