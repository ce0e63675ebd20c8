//! Handlers called through the router as a `tower::Service`, with no server listening and
//! no background service started: the web state is plain, so a route's behaviour can be
//! tested by calling it (`ServiceExt::oneshot`), as axum's own testing example does.

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{header, Request, StatusCode};
use http_body_util::BodyExt as _;
use secrecy::ExposeSecret as _;
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use tocsin_app::people::{totp, Role};
use tocsin_app::{AppConfig, Tocsin, TocsinParts};
use tocsin_connectors::sandbox::SandboxLog;
use tocsin_dispatch::{DispatchConfig, Dispatcher, Routes};
use tocsin_domain::compose::Composer;
use tocsin_domain::counting::PlatformLimits;
use tocsin_domain::library::Library;
use tocsin_domain::phi::{PhiConfig, PhiGuard};
use tocsin_web::server::{router, WebConfig, WebState};
use tower::ServiceExt as _;

use crate::support::{password, Backend, World};

fn state(world: &World) -> WebState {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let library = Library::load(&repo.join("playbooks"), &repo.join("templates")).unwrap();
    let composer = Composer::new(
        library.templates().clone(),
        PhiGuard::new(&PhiConfig::default()).unwrap(),
        PlatformLimits::default(),
        tocsin_connectors::counting_rules(),
    );
    let store = world.db.store.clone();
    let routes = Arc::new(Routes::new());
    let app = Tocsin::new(TocsinParts {
        dispatcher: Dispatcher::new(store.clone(), routes.clone(), DispatchConfig::default()),
        store,
        people: Arc::new(crate::support::World::people_with(
            &world.db,
            world.key.clone(),
        )),
        library: Arc::new(library),
        composer: Arc::new(composer),
        routes,
        sandbox: Arc::new(SandboxLog::default()),
        config: AppConfig::default(),
    });
    WebState::new(app, WebConfig::default())
}

async fn call(state: &WebState, request: Request<Body>) -> (StatusCode, Vec<String>, Value) {
    let mut request = request;
    request
        .extensions_mut()
        .insert(ConnectInfo(SocketAddr::from(([192, 0, 2, 7], 40000))));
    let response = router(state.clone()).oneshot(request).await.unwrap();
    let status = response.status();
    let cookies = response
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .collect();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    (status, cookies, body)
}

#[tokio::test]
async fn a_route_answers_through_oneshot_without_a_running_server() {
    let world = World::new(Backend::Sqlite).await;
    let secret = world.add("dana", Role::Drafter).await;
    let state = state(&world);

    let (status, _, body) = call(
        &state,
        Request::get("/api/playbooks").body(Body::empty()).unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"]["code"], "not_signed_in");

    let code = totp::code_from_base32(&secret, world.db.store.now()).unwrap();
    let sign_in = Request::post("/api/session")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(
            json!({"name": "dana", "password": password("dana").expose_secret(), "code": code})
                .to_string(),
        ))
        .unwrap();
    let (status, cookies, me) = call(&state, sign_in).await;
    assert_eq!(status, StatusCode::OK, "{me}");
    assert_eq!(me["role"], "drafter");
    let cookie = cookies[0].split(';').next().unwrap().to_string();

    let list = Request::get("/api/playbooks")
        .header(header::COOKIE, &cookie)
        .body(Body::empty())
        .unwrap();
    let (status, _, playbooks) = call(&state, list).await;
    assert_eq!(status, StatusCode::OK);
    assert!(playbooks
        .as_array()
        .unwrap()
        .iter()
        .any(|p| p["id"] == "boil-water"));

    // A drafter cannot reach administration, whatever the front door.
    let users = Request::get("/api/users")
        .header(header::COOKIE, &cookie)
        .body(Body::empty())
        .unwrap();
    let (status, _, _) = call(&state, users).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}
