//! The console's sign-in, session cookie, roles, CSRF checks and security headers, on SQLite
//! and PostgreSQL, over plain HTTP and in a headless browser.

use platform_catalog::service::tokens::Role;

use crate::both;
use crate::support::app::{Backend, TestApp};
use crate::support::browser::Browser;
use crate::support::console::Client;

both!(
    a_page_read_signed_out_goes_to_sign_in_and_a_post_is_refused,
    |b: Backend| {
        let app = TestApp::with_fleet(b);
        let client = Client::new(&app);
        let page = client.get("/ui/");
        assert_eq!((page.status, page.header("location")), (303, Some("/ui/login")));
        assert_eq!(client.post("/ui/logout", &[("csrf", "x")]).status, 401);
        let mut forged = Client::new(&app);
        forged.session = "0".repeat(64);
        assert_eq!(forged.get("/ui/").header("location"), Some("/ui/login"));
    }
);

both!(a_bad_or_cluster_token_cannot_sign_in, |b: Backend| {
    let app = TestApp::with_fleet(b);
    let mut client = Client::new(&app);
    let reply = client.sign_in("pcat_nope", &[]);
    assert_eq!(reply.status, 401);
    assert!(
        reply.body.contains("That token is unknown, expired or revoked."),
        "{}",
        reply.body
    );
    assert_eq!(reply.header("set-cookie"), None);
    let agent = app.issue("dev-agent", Role::Cluster, Some("dev-eu-1"));
    let reply = client.sign_in(&agent, &[]);
    assert_eq!(reply.status, 403);
    assert!(reply.body.contains("A cluster token cannot sign in"), "{}", reply.body);
});

both!(
    the_session_cookie_is_http_only_strict_expiring_and_secure_behind_tls,
    |b: Backend| {
        let app = TestApp::with_fleet(b);
        let token = app.issue("ui-viewer", Role::Viewer, None);
        let mut client = Client::new(&app);
        let plain = client.sign_in(&token, &[]);
        assert_eq!((plain.status, plain.header("location")), (303, Some("/ui/")));
        let cookie = plain.header("set-cookie").unwrap().to_owned();
        assert_eq!(
            cookie,
            format!(
                "pc_session={}; Path=/ui; Max-Age=28800; HttpOnly; SameSite=Strict",
                client.session
            )
        );
        assert_eq!(client.session.len(), 64);
        let tls = client.sign_in(&token, &[("x-forwarded-proto", "https")]);
        assert!(tls
            .header("set-cookie")
            .unwrap()
            .ends_with("; HttpOnly; SameSite=Strict; Secure"));
        let page = client.get("/ui/");
        assert_eq!(page.status, 200);
        assert_eq!(
            page.header("content-security-policy"),
            Some(platform_catalog::console::CSP)
        );
        assert!(!platform_catalog::console::CSP.contains("unsafe"));
        assert_eq!(page.header("x-frame-options"), Some("DENY"));
        assert_eq!(page.header("cache-control"), Some("no-store"));
    }
);

both!(a_form_without_this_session_s_csrf_token_is_refused, |b: Backend| {
    let app = TestApp::with_fleet(b);
    let token = app.issue("ui-viewer", Role::Viewer, None);
    let mut client = Client::new(&app);
    client.sign_in(&token, &[]);
    let csrf = client.csrf();
    let missing = client.post("/ui/logout", &[]);
    assert_eq!(missing.status, 403);
    assert!(
        missing.body.contains("the form carries no CSRF token (field `csrf`)"),
        "{}",
        missing.body
    );
    let wrong = client.post("/ui/logout", &[("csrf", &"f".repeat(64))]);
    assert_eq!(wrong.status, 403);
    assert!(wrong.body.contains("is not this session&#39;s"), "{}", wrong.body);
    assert_eq!(
        client.get("/ui/").status,
        200,
        "a refused form leaves the session alone"
    );
    let out = client.post("/ui/logout", &[("csrf", &csrf)]);
    assert_eq!((out.status, out.header("location")), (303, Some("/ui/login")));
    assert!(out.header("set-cookie").unwrap().contains("Max-Age=0"));
    assert_eq!(client.get("/ui/").header("location"), Some("/ui/login"));
});

both!(
    a_viewer_signs_in_in_a_browser_and_a_revoked_token_ends_the_session,
    |b: Backend| {
        let Some(browser) = Browser::start("ui_access::viewer") else {
            return;
        };
        let app = TestApp::with_fleet(b);
        let token = app.issue("ui-viewer", Role::Viewer, None);
        browser.sign_in(&app.base, &token);
        assert_eq!(browser.text_of("header .who"), "Signed in as ui-viewer (viewer)");
        // Only the sign-out form posts: a viewer gets no write button.
        assert_eq!(browser.all("main form[method=post]").len(), 0);
        assert_eq!(browser.all("header form[method=post]").len(), 1);
        assert_eq!(app.delete("/api/v1/tokens/ui-viewer").status, 204);
        browser.goto(&format!("{}/ui/", app.base));
        browser.wait("the sign-in page", || {
            browser.url().ends_with("/ui/login").then_some(())
        });
    }
);
