//! The plain-language check over HTTP: the preview grades every variant (formula, sentence
//! lengths, passive voice, jargon with replacements); a grade above the playbook's
//! `reading_grade_max` warns without blocking, approving it needs
//! `acknowledge_reading_grade`, and the acknowledgement is in the approval's audit entry.

use serde_json::{json, Map, Value};
use tocsin_app::people::Role;

use crate::on_both_backends;
use crate::server_support::{Api, Srv};
use crate::support::Backend;

on_both_backends!(
    a_variant_above_the_reading_grade_warns_and_its_approval_needs_an_acknowledgement,
);

/// An area named in administrative words: long words and a long first sentence.
const HARD_AREA: &str =
    "Northwestern Metropolitan Industrial Redevelopment Corridor, Administrative Subdivision";

/// The boil-water alert previewed with these values.
async fn preview(api: &Api, values: &Map<String, Value>) -> Value {
    api.post(
        "/api/playbooks/boil-water/preview",
        json!({"step": "alert", "values": values}),
    )
    .await
    .ok()
}

fn variants(v: &Value) -> &Vec<Value> {
    v["variants"].as_array().unwrap()
}

async fn a_variant_above_the_reading_grade_warns_and_its_approval_needs_an_acknowledgement(
    backend: Backend,
) {
    let s = Srv::start(backend).await;
    s.add_user("dana", Role::Drafter).await;
    s.add_user("alex", Role::Approver).await;
    let dana = s.sign_in("dana").await;
    let alex = s.sign_in("alex").await;

    // Each variant of the preview carries its grade, named by its formula.
    let examples = s.examples(&dana, "boil-water").await;
    let easy = preview(&dana, &examples).await;
    let masto = variants(&easy)
        .iter()
        .find(|v| v["target"] == "mastodon")
        .unwrap();
    let r = &masto["readability"];
    assert_eq!(r["formula"], "Flesch–Kincaid grade level", "{masto}");
    assert_eq!(masto["reading_grade_max"], 8.0);
    assert!(r["grade"].is_number(), "{r}");
    let lengths = r["sentence_lengths"].as_array().unwrap();
    assert!(!lengths.is_empty(), "{r}");
    assert_eq!(
        r["longest_sentence"],
        lengths.iter().map(|n| n.as_u64().unwrap()).max().unwrap()
    );
    assert!(r["passive"].is_array() && r["jargon"].is_array(), "{r}");

    // The same step with an area in administrative words reads above grade 8: a warning
    // on the variant, not a blocker.
    let mut values = examples.clone();
    values.insert("area".into(), json!(HARD_AREA));
    let hard = preview(&dana, &values).await;
    assert_eq!(hard["blocked"], false, "{hard}");
    let over: Vec<&Value> = variants(&hard)
        .iter()
        .filter(|v| v["over_reading_grade"] == true)
        .collect();
    assert!(!over.is_empty(), "{hard}");
    for v in &over {
        let grade = v["readability"]["grade"].as_f64().unwrap();
        assert!(grade > 8.0, "{v}");
        assert!(
            v["warnings"]
                .as_array()
                .unwrap()
                .iter()
                .any(|w| w.as_str().unwrap().contains("reading grade")),
            "{v}"
        );
    }
    let easy_grade = |target: &Value| {
        variants(&easy)
            .iter()
            .find(|v| v["target"] == *target)
            .unwrap()["readability"]["grade"]
            .as_f64()
            .unwrap()
    };
    assert!(over
        .iter()
        .all(|v| v["readability"]["grade"].as_f64().unwrap() > easy_grade(&v["target"])));

    // Jargon typed into a value is found with its plain replacement.
    let mut jargon = examples.clone();
    jargon.insert("area".into(), json!("the non-potable zone"));
    let p = preview(&dana, &jargon).await;
    let masto = variants(&p)
        .iter()
        .find(|v| v["target"] == "mastodon")
        .unwrap();
    assert!(
        masto["readability"]["jargon"]
            .as_array()
            .unwrap()
            .iter()
            .any(|j| j["term"] == "non-potable" && j["replacement"] == "not safe to drink"),
        "{masto}"
    );

    // Drafted, submitted: approving without the acknowledgement is refused, naming it.
    let draft = dana
        .post(
            "/api/drafts",
            json!({"playbook": "boil-water", "step": "alert", "values": values}),
        )
        .await;
    assert_eq!(draft.status, 201, "{}", draft.text);
    let draft = draft.body;
    assert_eq!(
        draft["needs_reading_grade_acknowledgement"], true,
        "{draft}"
    );
    let id = draft["id"].as_i64().unwrap();
    let draft = dana
        .post(&format!("/api/drafts/{id}/submit"), json!({}))
        .await
        .ok();
    let r = alex
        .post(
            &format!("/api/drafts/{id}/approve"),
            json!({"reviewed_hash": draft["hash"]}),
        )
        .await;
    r.refused(409, "reading_grade_unacknowledged");
    assert_eq!(r.body["error"]["field"], "acknowledge_reading_grade");
    assert!(r.text.contains("reading_grade_max"), "{}", r.text);
    let r = alex
        .post(
            &format!("/api/drafts/{id}/approve"),
            json!({"reviewed_hash": draft["hash"], "acknowledge_reading_grade": false}),
        )
        .await;
    r.refused(409, "reading_grade_unacknowledged");

    // Acknowledged, it is approved, and the audit entry records what was acknowledged.
    let published = alex
        .post(
            &format!("/api/drafts/{id}/approve"),
            json!({"reviewed_hash": draft["hash"], "acknowledge_reading_grade": true}),
        )
        .await
        .ok();
    assert!(published["message_id"].is_i64(), "{published}");
    let audit = s.audit().await;
    assert!(audit.iter().any(|e| e.action == "draft.approve"
        && e.outcome
            .as_deref()
            .is_some_and(|o| o.contains("reading_grade_unacknowledged"))));
    let approval = audit
        .iter()
        .find(|e| e.action == "draft.approve" && e.outcome.as_deref() == Some("ok"))
        .unwrap();
    let acknowledged = &approval.subjects["reading_grade"];
    assert!(acknowledged.starts_with("acknowledged: "), "{approval:?}");
    for v in &over {
        assert!(
            acknowledged.contains(&format!("{} ", v["target"].as_str().unwrap())),
            "{acknowledged} lacks {}",
            v["target"]
        );
    }

    // A draft within the grade needs no acknowledgement.
    let plain = dana
        .post(
            "/api/drafts",
            json!({"playbook": "boil-water", "step": "alert", "values": examples}),
        )
        .await;
    assert_eq!(plain.status, 201, "{}", plain.text);
    let expected = variants(&easy)
        .iter()
        .any(|v| v["over_reading_grade"] == true);
    assert_eq!(plain.body["needs_reading_grade_acknowledgement"], expected);
}
