//! `/docs/guide`: the guide to the common jobs (`docs/guide.md`), served beside the API reference.

use actix_web::HttpResponse;

const GUIDE: &str = include_str!("../../../docs/guide.md");

/// The guide as a page: its markdown, escaped, as preformatted text under a link back to the
/// reference, so the page needs no script and no renderer.
pub async fn guide_page() -> HttpResponse {
    let escaped = GUIDE.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;");
    let page = format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>Platform Catalog: the common jobs</title>\
         <style>body{{max-width:56rem;margin:2rem auto;padding:0 1rem;font-family:sans-serif}}\
         pre{{white-space:pre-wrap}}</style></head>\n<body><p><a href=\"/docs/\">API reference</a></p>\n\
         <pre>{escaped}</pre>\n</body></html>\n"
    );
    HttpResponse::Ok().content_type("text/html; charset=utf-8").body(page)
}
