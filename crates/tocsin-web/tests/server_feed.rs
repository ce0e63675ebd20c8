//! The public alert feed over real HTTP against a running server: an approved alert is an
//! Atom entry and a CAP 1.2 `Alert`, its retraction a `Cancel` referencing it; an exercise
//! is only in the exercise feed, with CAP status `Exercise`; a step update references its
//! alert and a correction is an `Update`; without a public URL only loopback is answered.
//! A step with WEA texts gives one `info` per language (`en-US`, `es-US`) carrying the
//! approved `CMAMtext` and `CMAMlongtext`, and meets what the IPAWS profile requires.
//!
//! Every CAP document is validated against the OASIS CAP 1.2 XML schema
//! (`tests/schemas/CAP-v1.2.xsd`, see the README there) and every feed is parsed, both
//! with `xmllint` (Debian's libxml2-utils, installed by `.ci/run`). A missing `xmllint`
//! fails the test: it is never skipped.

use chrono::Duration;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use tocsin_app::people::Role;

use crate::on_both_backends;
use crate::server_support::{Api, Resp, Srv};
use crate::support::Backend;

on_both_backends!(
    wea_texts_are_one_info_per_language_as_approved_and_meet_the_ipaws_profile,
    an_approved_alert_is_a_cap_alert_and_its_retraction_a_cap_cancel,
    an_exercise_is_only_in_the_exercise_feed_and_updates_reference_their_alert,
    without_a_public_url_the_feed_answers_only_on_loopback,
    the_feed_is_recomposed_only_when_a_message_is_added_retracted_or_falls_due,
);

const PUBLIC_URL: &str = "https://alerts.health.example.gov";
const SENDER: &str = "health.example.gov";

fn schema() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/schemas/CAP-v1.2.xsd")
}

/// Runs `xmllint` with `args` on `xml` (given on its standard input); its success, its
/// standard output, and both outputs together (for messages).
fn xmllint(args: &[&str], xml: &str) -> (bool, String, String) {
    use std::io::Write as _;
    let mut child = Command::new("xmllint")
        .args(args)
        .arg("-")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            panic!(
                "xmllint could not run ({e}): install it (Debian: apt-get install libxml2-utils); \
                 the feed's documents are validated with it"
            )
        });
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(xml.as_bytes()).unwrap();
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let all = format!("{stdout}{}", String::from_utf8_lossy(&out.stderr));
    (out.status.success(), stdout, all)
}

/// Asserts `xml` is a valid CAP 1.2 document.
fn assert_valid_cap(xml: &str) {
    let schema = schema();
    let (ok, _, said) = xmllint(&["--noout", "--schema", schema.to_str().unwrap()], xml);
    assert!(ok, "not valid CAP 1.2: {said}\n{xml}");
}

/// Asserts `xml` is well-formed.
fn assert_well_formed(xml: &str) {
    let (ok, _, said) = xmllint(&["--noout"], xml);
    assert!(ok, "not well-formed: {said}\n{xml}");
}

/// The XPath string value of `/a/b/c` (local names, any namespace) in `xml`.
fn at(xml: &str, path: &str) -> String {
    let steps: String = path
        .split('/')
        .map(|s| format!("/*[local-name()='{s}']"))
        .collect();
    xpath(xml, &format!("string({steps})"))
}

/// The value of an XPath expression (xmllint ends it with a newline, taken off here).
fn xpath(xml: &str, expr: &str) -> String {
    let (ok, value, said) = xmllint(&["--xpath", expr], xml);
    assert!(ok, "xpath {expr}: {said}");
    value.strip_suffix('\n').unwrap_or(&value).to_string()
}

fn entries(feed: &str) -> usize {
    xpath(
        feed,
        "count(/*[local-name()='feed']/*[local-name()='entry'])",
    )
    .trim()
    .parse()
    .unwrap()
}

/// An entry's child, by position (1 is the newest).
fn entry(feed: &str, n: usize, child: &str) -> String {
    xpath(
        feed,
        &format!(
            "string(/*[local-name()='feed']/*[local-name()='entry'][{n}]/*[local-name()='{child}'])"
        ),
    )
}

fn entry_link(feed: &str, n: usize) -> String {
    xpath(
        feed,
        &format!(
            "string(/*[local-name()='feed']/*[local-name()='entry'][{n}]/*[local-name()='link'][@rel='alternate' and @type='application/cap+xml']/@href)"
        ),
    )
}

/// `GET path` as text, asserting 200 and the media type.
async fn get_xml(api: &Api, path: &str, media_type: &str) -> (Resp, String) {
    let r = api.get(path).await;
    assert_eq!(r.status, 200, "GET {path}: {}", r.text);
    let content_type = r.headers["content-type"].to_str().unwrap().to_string();
    assert!(
        content_type.starts_with(media_type),
        "GET {path}: {content_type}"
    );
    let text = r.text.clone();
    (r, text)
}

async fn feed(api: &Api, path: &str) -> String {
    let (_, xml) = get_xml(api, path, "application/atom+xml").await;
    assert_well_formed(&xml);
    xml
}

async fn cap(api: &Api, id: i64) -> String {
    let (r, xml) = get_xml(api, &format!("/feed/cap/{id}.xml"), "application/cap+xml").await;
    assert_eq!(r.headers["x-content-type-options"], "nosniff");
    assert_valid_cap(&xml);
    xml
}

fn id_of(v: &Value) -> i64 {
    v["id"].as_i64().unwrap()
}

/// Approves as the panel does once the approver has read it: a reading grade above the
/// playbook's maximum is acknowledged (the refusal without it is server_plain_language's).
async fn approve(api: &Api, draft: &Value) -> i64 {
    let id = id_of(draft);
    let acknowledge = draft["needs_reading_grade_acknowledgement"] == true;
    api.post(
        &format!("/api/drafts/{id}/approve"),
        json!({"reviewed_hash": draft["hash"], "acknowledge_reading_grade": acknowledge}),
    )
    .await
    .ok()["message_id"]
        .as_i64()
        .unwrap()
}

/// Drafts, submits and approves a boil-water `step` (with these values over the
/// examples); the message id.
async fn publish(
    s: &Srv,
    dana: &Api,
    alex: &Api,
    step: &str,
    overrides: Value,
    exercise: bool,
) -> i64 {
    let mut values = s.examples(dana, "boil-water").await;
    for (k, v) in overrides.as_object().unwrap() {
        values.insert(k.clone(), v.clone());
    }
    let draft = dana
        .post(
            "/api/drafts",
            json!({"playbook": "boil-water", "step": step, "values": values, "exercise": exercise}),
        )
        .await
        .ok();
    let submitted = dana
        .post(&format!("/api/drafts/{}/submit", id_of(&draft)), json!({}))
        .await
        .ok();
    approve(alex, &submitted).await
}

async fn people(s: &Srv) -> (Api, Api) {
    s.add_user("dana", Role::Drafter).await;
    s.add_user("alex", Role::Approver).await;
    (s.sign_in("dana").await, s.sign_in("alex").await)
}

async fn an_approved_alert_is_a_cap_alert_and_its_retraction_a_cap_cancel(backend: Backend) {
    let s = Srv::start_with(backend, |o| {
        o.server.public_url = Some(PUBLIC_URL.into());
        o.server.cap_sender = Some(SENDER.into());
    })
    .await;
    let (dana, alex) = people(&s).await;
    let public = s.client();

    let empty = feed(&public, "/feed/alerts.atom").await;
    assert_eq!(entries(&empty), 0);
    assert_eq!(
        at(&empty, "feed/id"),
        "https://alerts.health.example.gov/feed/alerts.atom"
    );

    // Markup in a value is text in both documents, never markup.
    let area = "North Side & <Lakeview>, ZIP codes 60640 and 60660";
    let id = publish(&s, &dana, &alex, "alert", json!({"area": area}), false).await;
    s.delivered(&alex, id).await;

    let xml = cap(&public, id).await;
    // The schema does hold documents to CAP's rules: a `Z` time zone is refused.
    let schema = schema();
    let (ok, _, said) = xmllint(
        &["--noout", "--schema", schema.to_str().unwrap()],
        &xml.replace("-00:00</sent>", "Z</sent>"),
    );
    assert!(!ok && said.contains("sent"), "{said}");
    assert_eq!(at(&xml, "alert/sender"), SENDER);
    let identifier = at(&xml, "alert/identifier");
    assert!(
        identifier.starts_with(&format!("tocsin-{id}-")),
        "{identifier}"
    );
    let sent = at(&xml, "alert/sent");
    assert!(sent.ends_with("-00:00") && !sent.contains('.'), "{sent}");
    assert_eq!(at(&xml, "alert/status"), "Actual");
    assert_eq!(at(&xml, "alert/msgType"), "Alert");
    assert_eq!(at(&xml, "alert/scope"), "Public");
    assert_eq!(at(&xml, "alert/references"), "");
    assert_eq!(at(&xml, "alert/info/category"), "Health");
    assert_eq!(at(&xml, "alert/info/event"), "Boil Water Advisory");
    assert_eq!(at(&xml, "alert/info/urgency"), "Immediate");
    assert_eq!(at(&xml, "alert/info/severity"), "Moderate");
    assert_eq!(at(&xml, "alert/info/certainty"), "Likely");
    let headline = at(&xml, "alert/info/headline");
    assert_eq!(headline, format!("Boil-water advisory for {area}"));
    let description = at(&xml, "alert/info/description");
    assert!(
        description.contains("Do not drink tap water"),
        "{description}"
    );
    // The email's plain text, the long form without hashtags.
    assert!(!description.contains("#BoilWaterAdvisory"), "{description}");
    assert_eq!(
        at(&xml, "alert/info/web"),
        "https://health.example.gov/water"
    );
    assert!(!at(&xml, "alert/info/contact").is_empty());
    assert_eq!(at(&xml, "alert/info/area/areaDesc"), area);
    assert!(xml.contains("North Side &amp; &lt;Lakeview&gt;"), "{xml}");

    let (r, atom) = get_xml(&public, "/feed/alerts.atom", "application/atom+xml").await;
    assert!(r.headers["cache-control"]
        .to_str()
        .unwrap()
        .starts_with("public"));
    assert_well_formed(&atom);
    assert_eq!(entries(&atom), 1);
    assert_eq!(entry(&atom, 1, "title"), headline);
    assert_eq!(entry(&atom, 1, "summary"), description);
    assert!(entry(&atom, 1, "id").starts_with("tag:alerts.health.example.gov,"));
    assert!(entry(&atom, 1, "id").ends_with(&format!(":{identifier}")));
    assert_eq!(
        entry_link(&atom, 1),
        format!("{PUBLIC_URL}/feed/cap/{id}.xml")
    );
    assert_eq!(
        entries(&feed(&public, "/feed/exercise.atom").await),
        0,
        "a real alert is not in the exercise feed"
    );

    // Retracted: the feed adds a Cancel that names the alert; the alert stays.
    s.advance(Duration::minutes(2));
    let retraction = alex
        .post(
            &format!("/api/messages/{id}/retract"),
            json!({"mode": "delete", "reason": "wrong area named"}),
        )
        .await
        .ok();
    let cancel_id = id_of(&retraction);
    let cancel = cap(&public, cancel_id).await;
    assert_eq!(at(&cancel, "alert/msgType"), "Cancel");
    assert_eq!(at(&cancel, "alert/status"), "Actual");
    assert_eq!(
        at(&cancel, "alert/references"),
        format!("{SENDER},{identifier},{sent}")
    );
    assert_ne!(at(&cancel, "alert/identifier"), identifier);
    assert_eq!(
        at(&cancel, "alert/info/headline"),
        format!("Cancelled: {headline}")
    );
    // The original document does not change.
    assert_eq!(cap(&public, id).await, xml);

    let atom = feed(&public, "/feed/alerts.atom").await;
    assert_eq!(entries(&atom), 2);
    assert_eq!(
        entry_link(&atom, 1),
        format!("{PUBLIC_URL}/feed/cap/{cancel_id}.xml"),
        "newest first"
    );
    assert_eq!(entry(&atom, 1, "title"), format!("Cancelled: {headline}"));
    assert_eq!(
        entry_link(&atom, 2),
        format!("{PUBLIC_URL}/feed/cap/{id}.xml")
    );
    assert_eq!(at(&atom, "feed/updated"), entry(&atom, 1, "updated"));
}

/// XPath over CAP elements by local name: `info[2]/language` →
/// `/*[local-name()='alert']/*[local-name()='info'][2]/*[local-name()='language']`.
fn cap_path(path: &str) -> String {
    std::iter::once("alert")
        .chain(path.split('/'))
        .map(|step| match step.split_once('[') {
            Some((name, index)) => format!("/*[local-name()='{name}'][{index}"),
            None => format!("/*[local-name()='{step}']"),
        })
        .collect()
}

/// How many `info` blocks a CAP document has.
fn infos(xml: &str) -> String {
    xpath(xml, &format!("count({})", cap_path("info")))
}

/// The value of the WEA `parameter` `name` of the `n`th `info`.
fn cmam(xml: &str, n: usize, name: &str) -> String {
    xpath(
        xml,
        &format!(
            "string({}/*[local-name()='parameter'][*[local-name()='valueName']='{name}']/*[local-name()='value'])",
            cap_path(&format!("info[{n}]"))
        ),
    )
}

async fn wea_texts_are_one_info_per_language_as_approved_and_meet_the_ipaws_profile(
    backend: Backend,
) {
    let s = Srv::start_with(backend, |o| {
        o.server.public_url = Some(PUBLIC_URL.into());
        o.server.cap_sender = Some(SENDER.into());
    })
    .await;
    let (dana, alex) = people(&s).await;
    let public = s.client();
    // The drafter sees each WEA text with its count and limit, whatever the targets.
    let mut values = s.examples(&dana, "boil-water").await;
    values.insert("area".into(), json!("North Side"));
    let preview = dana
        .post(
            "/api/playbooks/boil-water/preview",
            json!({"step": "alert", "values": values, "targets": {"groups": ["public"]}}),
        )
        .await
        .ok();
    let wea: Vec<&Value> = preview["variants"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|v| v["target"].as_str().unwrap().starts_with("wea_"))
        .collect();
    let targets: Vec<&str> = wea.iter().map(|v| v["target"].as_str().unwrap()).collect();
    assert_eq!(
        targets,
        ["wea_en_short", "wea_en_long", "wea_es_short", "wea_es_long"]
    );
    assert_eq!(wea[0]["limit"], 90);
    assert_eq!(wea[1]["limit"], 360);
    assert_eq!(wea[0]["unit"], "septets");
    assert_eq!(wea[0]["over"], false);
    assert_eq!(preview["blocked"], false, "{preview}");

    let id = publish(
        &s,
        &dana,
        &alex,
        "alert",
        json!({"area": "North Side"}),
        false,
    )
    .await;
    s.delivered(&alex, id).await;
    // Valid against the CAP 1.2 schema (`cap` asserts it) with two info blocks.
    let xml = cap(&public, id).await;
    assert_eq!(infos(&xml), "2", "{xml}");
    assert_eq!(at(&xml, "alert/info/language"), "en-US");
    assert_eq!(
        xpath(&xml, &format!("string({})", cap_path("info[2]/language"))),
        "es-US"
    );

    // The texts are the ones approved: as the message stored them, rendered at approval.
    let en_short = cmam(&xml, 1, "CMAMtext");
    let es_short = cmam(&xml, 2, "CMAMtext");
    assert_eq!(
        en_short,
        "Boil water advisory in this area. Boil tap water 1 min before you drink or cook with it."
    );
    assert!(
        es_short.starts_with("Aviso de hervir el agua en esta zona."),
        "{es_short}"
    );
    assert!(
        cmam(&xml, 1, "CMAMlongtext").contains("North Side"),
        "{xml}"
    );
    assert!(
        cmam(&xml, 2, "CMAMlongtext").contains("fórmula para bebé"),
        "{xml}"
    );
    // The English texts stay in the English block, the Spanish in the Spanish one.
    assert_eq!(
        xpath(
            &xml,
            &format!("count({}/*[local-name()='parameter'])", cap_path("info[1]"))
        ),
        "2"
    );
    assert_eq!(
        xpath(&xml, &format!("string({})", cap_path("info[2]/headline"))),
        ""
    );

    // What the CAP v1.2 USA IPAWS Profile v1.0 requires, read from the document:
    // the alert names the profile (`code` IPAWSv1.0), and every info block has an
    // `event`, CAP `urgency`/`severity`/`certainty` values, `expires` (required by the
    // profile; 47 CFR 10.420 lists the expiration time as a mandatory WEA element), an
    // `area` with a six-digit `SAME` geocode, and a `CMAMtext` within 90 characters
    // (47 CFR 10.430), with `CMAMlongtext` within 360.
    assert_eq!(at(&xml, "alert/code"), "IPAWSv1.0");
    let sent = at(&xml, "alert/sent");
    for n in 1..=2 {
        let field = |name: &str| {
            xpath(
                &xml,
                &format!("string({})", cap_path(&format!("info[{n}]/{name}"))),
            )
        };
        assert_eq!(field("event"), "Boil Water Advisory");
        assert_eq!(field("urgency"), "Immediate");
        assert_eq!(field("severity"), "Moderate");
        assert_eq!(field("certainty"), "Likely");
        let expires = field("expires");
        assert!(
            expires > sent && expires.ends_with("-00:00"),
            "{expires} after {sent}"
        );
        let same = xpath(
            &xml,
            &format!(
                "string({}/*[local-name()='geocode'][*[local-name()='valueName']='SAME']/*[local-name()='value'])",
                cap_path(&format!("info[{n}]/area"))
            ),
        );
        assert!(
            same.len() == 6 && same.bytes().all(|b| b.is_ascii_digit()),
            "{same}"
        );
        let short = cmam(&xml, n, "CMAMtext");
        assert!(!short.is_empty() && short.chars().count() <= 90, "{short}");
        assert!(cmam(&xml, n, "CMAMlongtext").chars().count() <= 360);
    }

    // A step without WEA texts keeps a single info block, with no `language`.
    s.advance(Duration::minutes(5));
    let update = publish(
        &s,
        &dana,
        &alex,
        "update",
        json!({"area": "North Side"}),
        false,
    )
    .await;
    s.delivered(&alex, update).await;
    let xml = cap(&public, update).await;
    assert_eq!(infos(&xml), "1", "{xml}");
    assert_eq!(at(&xml, "alert/info/language"), "");
}

async fn an_exercise_is_only_in_the_exercise_feed_and_updates_reference_their_alert(
    backend: Backend,
) {
    let s = Srv::start_with(backend, |o| {
        o.server.public_url = Some(PUBLIC_URL.into());
    })
    .await;
    let (dana, alex) = people(&s).await;
    let public = s.client();

    let alert = publish(&s, &dana, &alex, "alert", json!({}), true).await;
    s.advance(Duration::minutes(2));
    let update = publish(&s, &dana, &alex, "update", json!({}), true).await;

    assert_eq!(entries(&feed(&public, "/feed/alerts.atom").await), 0);
    let atom = feed(&public, "/feed/exercise.atom").await;
    assert_eq!(entries(&atom), 2);
    assert!(at(&atom, "feed/title").starts_with("EXERCISE"));
    assert!(entry(&atom, 1, "title").starts_with("EXERCISE: "));

    let first = cap(&public, alert).await;
    // Without cap_sender, the sender is the public URL's host.
    assert_eq!(at(&first, "alert/sender"), "alerts.health.example.gov");
    assert_eq!(at(&first, "alert/status"), "Exercise");
    assert!(at(&first, "alert/note").starts_with("EXERCISE"));
    assert_eq!(at(&first, "alert/msgType"), "Alert");
    let second = cap(&public, update).await;
    assert_eq!(at(&second, "alert/status"), "Exercise");
    assert_eq!(at(&second, "alert/msgType"), "Update");
    assert_eq!(
        at(&second, "alert/references"),
        format!(
            "alerts.health.example.gov,{},{}",
            at(&first, "alert/identifier"),
            at(&first, "alert/sent")
        )
    );

    // A correction of the update (a draft of the correction playbook, approved like any
    // other) is an Update naming it, with the correction's text.
    s.advance(Duration::minutes(2));
    let mut values = s.examples(&dana, "correction").await;
    values.insert(
        "correct".into(),
        json!("The advisory for North Side stays in effect until Friday."),
    );
    let draft = dana
        .post(
            "/api/drafts",
            json!({"playbook": "correction", "step": "correction", "values": values, "corrects": update}),
        )
        .await
        .ok();
    assert_eq!(
        draft["exercise"], true,
        "the correction of an exercise is one"
    );
    let submitted = dana
        .post(&format!("/api/drafts/{}/submit", id_of(&draft)), json!({}))
        .await
        .ok();
    let correction = json!({"id": approve(&alex, &submitted).await});
    let corrected = cap(&public, id_of(&correction)).await;
    assert_eq!(at(&corrected, "alert/status"), "Exercise");
    assert_eq!(at(&corrected, "alert/msgType"), "Update");
    assert_eq!(
        at(&corrected, "alert/references"),
        format!(
            "alerts.health.example.gov,{},{}",
            at(&second, "alert/identifier"),
            at(&second, "alert/sent")
        )
    );
    assert!(
        at(&corrected, "alert/info/description")
            .starts_with("CORRECTION: The advisory for North Side stays in effect until Friday."),
        "{}",
        at(&corrected, "alert/info/description")
    );
    assert_eq!(entries(&feed(&public, "/feed/exercise.atom").await), 3);
    assert_eq!(entries(&feed(&public, "/feed/alerts.atom").await), 0);
}

async fn without_a_public_url_the_feed_answers_only_on_loopback(backend: Backend) {
    let s = Srv::start(backend).await;
    let (dana, alex) = people(&s).await;
    let public = s.client();
    let id = publish(&s, &dana, &alex, "alert", json!({}), false).await;

    // On loopback, links point back at the address asked.
    let atom = feed(&public, "/feed/alerts.atom").await;
    assert_eq!(
        entry_link(&atom, 1),
        format!("{}/feed/cap/{id}.xml", s.harness.url())
    );
    cap(&public, id).await;

    // Asked under another name, without [server] public_url: no feed.
    let r = public
        .send(
            public
                .http
                .get(public.url("/feed/alerts.atom"))
                .header("host", "alerts.example.org"),
        )
        .await;
    r.refused(404, "not_configured");

    for missing in ["/feed/cap/999.xml", "/feed/cap/abc.xml", "/feed/cap/1.json"] {
        public.get(missing).await.refused(404, "not_found");
    }
    public
        .post("/feed/alerts.atom", json!({}))
        .await
        .refused(405, "method_not_allowed");
}

async fn the_feed_is_recomposed_only_when_a_message_is_added_retracted_or_falls_due(
    backend: Backend,
) {
    let s = Srv::start_with(backend, |o| {
        o.server.public_url = Some(PUBLIC_URL.into());
        o.server.cap_sender = Some(SENDER.into());
    })
    .await;
    let (dana, alex) = people(&s).await;
    let public = s.client();
    let first = publish(&s, &dana, &alex, "alert", json!({}), false).await;
    s.delivered(&alex, first).await;
    let before = feed(&public, "/feed/alerts.atom").await;
    assert_eq!(entries(&before), 1);
    // Changed behind the server's back, the same messages: the feed as composed is served.
    s.text_rows("UPDATE messages SET title = 'Edited behind the feed' RETURNING title")
        .await;
    for _ in 0..3 {
        assert_eq!(feed(&public, "/feed/alerts.atom").await, before);
    }
    // A new message changes what the feed shows: it is composed again, edit and all.
    let second = publish(&s, &dana, &alex, "alert", json!({}), false).await;
    s.delivered(&alex, second).await;
    let after = feed(&public, "/feed/alerts.atom").await;
    assert_eq!(entries(&after), 2);
    assert!(after.contains("Edited behind the feed"), "{after}");
}
