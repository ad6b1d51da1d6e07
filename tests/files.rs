//! Files in dialogs over the real server, on both databases and on both stores (a directory and
//! an S3-compatible server): a visitor sends an image and a PDF, the operator sees and opens
//! them and sends one back; types are read from the content; the tenant's limits hold and a
//! refused file leaves nothing behind; another company's people get 404; a file message can be
//! deleted by its author, never edited; an unread reply's mail links its file. (Part of the
//! `realtime_api` test binary.)

use std::io::Cursor;
use std::time::Duration;

use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tandem_testkit::TestDatabase;
use tandem_testkit::s3::Bucket;

use crate::support::live::{Live, Operator, Visitor};

const PDF: &[u8] =
    b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n";
const EXE: &[u8] = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00\xb8\x00\x00\x00";

/// A PNG of `width` × `height` with something in it (so it does not compress to nothing).
pub(crate) fn png(width: u32, height: u32) -> Vec<u8> {
    let image = image::RgbImage::from_fn(width, height, |x, y| {
        image::Rgb([(x % 256) as u8, (y % 256) as u8, ((x * y) % 256) as u8])
    });
    let mut out = Cursor::new(Vec::new());
    image
        .write_to(&mut out, image::ImageFormat::Png)
        .expect("a PNG");
    out.into_inner()
}

async fn upload(
    live: &Live,
    path: &str,
    token: &str,
    name: &str,
    bytes: Vec<u8>,
    client_id: Option<&str>,
) -> (StatusCode, Value) {
    let mut query = vec![("name", name.to_owned())];
    if let Some(id) = client_id {
        query.push(("client_id", id.to_owned()));
    }
    let response = live
        .http
        .post(live.url(path))
        .query(&query)
        .bearer_auth(token)
        .header("content-type", "application/octet-stream")
        .body(bytes)
        .send()
        .await
        .expect("the server answers");
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn visitor_sends(
    live: &Live,
    visitor: &Visitor,
    name: &str,
    bytes: Vec<u8>,
) -> (StatusCode, Value) {
    let path = format!("/api/v1/widget/{}/chat/files", visitor.key);
    upload(live, &path, &visitor.token, name, bytes, None).await
}

async fn operator_sends(
    live: &Live,
    operator: &Operator,
    chat: &str,
    name: &str,
    bytes: Vec<u8>,
) -> (StatusCode, Value) {
    let path = format!("/api/v1/chats/{chat}/files");
    upload(live, &path, &operator.token, name, bytes, None).await
}

pub(crate) async fn download(
    live: &Live,
    path: &str,
    token: Option<&str>,
) -> (StatusCode, HeaderMap, Vec<u8>) {
    let mut request = live.http.get(live.url(path));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.expect("the server answers");
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response.bytes().await.expect("a body").to_vec();
    (status, headers, bytes)
}

pub(crate) fn header<'a>(headers: &'a HeaderMap, name: &str) -> &'a str {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

pub(crate) async fn chat_of(live: &Live, visitor: &Visitor) -> String {
    let (_, dialog) = live.visitor_call(visitor, Method::GET, "/chat", None).await;
    dialog["chat"]["id"].as_str().expect("a chat").to_owned()
}

/// Files kept under the server's directory store (none on S3).
pub(crate) fn files_on_disk(live: &Live) -> usize {
    fn count(dir: &std::path::Path) -> usize {
        std::fs::read_dir(dir).map_or(0, |entries| {
            entries
                .flatten()
                .map(|e| {
                    let path = e.path();
                    if path.is_dir() { count(&path) } else { 1 }
                })
                .sum()
        })
    }
    count(&live.env.dir.path().join("files"))
}

async fn on_disk(db: TestDatabase) -> Live {
    Live::on_database(db).await
}

/// Served with its files in a bucket of its own on the S3-compatible server.
async fn on_s3(db: TestDatabase) -> Option<Live> {
    let bucket = Bucket::create().await?;
    let vars = bucket.vars();
    let borrowed: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    Some(Live::with_env(db, &borrowed).await)
}

async fn a_visitor_and_an_operator_exchange_files(live: Live) {
    let olga = live.online_operator(&live.acme, "Olga").await;
    let anna = live.visitor(&live.acme).await;
    let photo = png(1200, 800);

    // The visitor sends a photo and a PDF: each is a message of hers, typed by its content.
    let (status, image) = visitor_sends(
        &live,
        &anna,
        "C:\\Users\\anna\\broken lamp.png",
        photo.clone(),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{image}");
    let a = &image["attachment"];
    assert_eq!(image["author"], "visitor");
    assert_eq!(
        image["body"], "broken lamp.png",
        "the name without its path"
    );
    assert_eq!(a["name"], "broken lamp.png");
    assert_eq!(a["kind"], "image");
    assert_eq!(a["content_type"], "image/png");
    assert_eq!(a["size"], photo.len());
    assert_eq!(
        (a["width"].as_u64(), a["height"].as_u64()),
        (Some(1200), Some(800))
    );
    assert_eq!(a["thumbnail"], true);
    let (status, pdf) = visitor_sends(&live, &anna, "receipt.pdf", PDF.to_vec()).await;
    assert_eq!(status, StatusCode::CREATED, "{pdf}");
    assert_eq!(pdf["attachment"]["kind"], "file");
    assert_eq!(pdf["attachment"]["content_type"], "application/pdf");

    // The operator sees both in the dialog and opens them.
    let chat = chat_of(&live, &anna).await;
    let dialog = live.dialog(&olga.token, &chat).await;
    let shown: Vec<&Value> = dialog["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| &m["attachment"])
        .collect();
    assert_eq!(shown.len(), 2);
    assert_eq!(shown[0]["name"], "broken lamp.png");
    let image_id = image["attachment"]["id"].as_str().unwrap();
    let pdf_id = pdf["attachment"]["id"].as_str().unwrap();
    let (status, headers, bytes) = download(
        &live,
        &format!("/api/v1/files/{image_id}"),
        Some(&olga.token),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(bytes, photo, "the same bytes");
    assert_eq!(header(&headers, "content-type"), "image/png");
    assert!(
        header(&headers, "content-disposition").starts_with("inline;"),
        "{headers:?}"
    );
    assert_eq!(header(&headers, "x-content-type-options"), "nosniff");
    assert!(header(&headers, "content-security-policy").contains("sandbox"));
    let (status, headers, thumb) = download(
        &live,
        &format!("/api/v1/files/{image_id}/thumbnail"),
        Some(&olga.token),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(header(&headers, "content-type"), "image/jpeg");
    let small = image::load_from_memory(&thumb).expect("a JPEG");
    assert_eq!((small.width(), small.height()), (480, 320));
    // Anything but a checked image is only ever downloaded, as bytes nobody renders.
    let (status, headers, bytes) =
        download(&live, &format!("/api/v1/files/{pdf_id}"), Some(&olga.token)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(bytes, PDF);
    assert_eq!(header(&headers, "content-type"), "application/octet-stream");
    assert_eq!(
        header(&headers, "content-disposition"),
        "attachment; filename=\"receipt.pdf\"; filename*=UTF-8''receipt.pdf"
    );
    let (status, _, _) = download(
        &live,
        &format!("/api/v1/files/{pdf_id}/thumbnail"),
        Some(&olga.token),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "no thumbnail of a PDF");

    // The operator answers with a file: it is her reply, and the visitor opens it.
    let (status, reply) = operator_sends(
        &live,
        &olga,
        &chat,
        "Инструкция.txt",
        "Шаг 1: выключите лампу.\n".as_bytes().to_vec(),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{reply}");
    assert_eq!(reply["author"], "operator");
    assert_eq!(
        reply["attachment"]["content_type"],
        "text/plain; charset=utf-8"
    );
    let reply_id = reply["attachment"]["id"].as_str().unwrap();
    let own = format!("/api/v1/widget/{}/files/{reply_id}", anna.key);
    let (status, headers, bytes) = download(&live, &own, Some(&anna.token)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        String::from_utf8(bytes).unwrap(),
        "Шаг 1: выключите лампу.\n"
    );
    assert!(
        header(&headers, "content-disposition").contains("filename*=UTF-8''%D0%98"),
        "{headers:?}"
    );
    let (status, _, _) = download(&live, &own, None).await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "no token, no link: nothing"
    );

    // Nobody else: another visitor of the same company, and another company's people, get 404.
    let boris = live.visitor(&live.acme).await;
    let (status, _, _) = download(&live, &own, Some(&boris.token)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _, _) = download(
        &live,
        &format!("/api/v1/files/{image_id}"),
        Some(&live.globex.admin_token),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "another tenant's file");
    let stranger = live.visitor(&live.globex).await;
    let (status, _, _) = download(
        &live,
        &format!("/api/v1/widget/{}/files/{image_id}", stranger.key),
        Some(&stranger.token),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _, _) = download(
        &live,
        &format!("/api/v1/widget/{}/files/{image_id}", anna.key),
        Some(&stranger.token),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "another company's visitor token"
    );
    let (status, body) = upload(
        &live,
        &format!("/api/v1/chats/{chat}/files"),
        &live.globex.admin_token,
        "x.txt",
        b"x".to_vec(),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
}

async fn a_visitor_and_an_operator_exchange_files_on_s3(live: Option<Live>) {
    if let Some(live) = live {
        a_visitor_and_an_operator_exchange_files(live).await;
    }
}

async fn refused_files_leave_nothing_behind(live: Live) {
    let anna = live.visitor(&live.acme).await;
    let refusals: Vec<(&str, Vec<u8>, StatusCode, &str)> = vec![
        (
            "cat.png",
            EXE.to_vec(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "file_disguised",
        ),
        (
            "setup.exe",
            EXE.to_vec(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "file_type_not_allowed",
        ),
        (
            "tool",
            EXE.to_vec(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "file_type_not_allowed",
        ),
        (
            "logo.svg",
            b"<svg onload=alert(1)></svg>".to_vec(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "file_type_not_allowed",
        ),
        (
            "report.pdf",
            png(10, 10),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "file_disguised",
        ),
        (
            "broken.png",
            png(600, 600)[..200].to_vec(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "file_unreadable",
        ),
        (
            "empty.txt",
            Vec::new(),
            StatusCode::BAD_REQUEST,
            "file_empty",
        ),
        (
            "big.txt",
            vec![b'a'; 25 * 1024 * 1024 + 1],
            StatusCode::PAYLOAD_TOO_LARGE,
            "file_too_large",
        ),
    ];
    for (name, bytes, status, code) in refusals {
        let (got, body) = visitor_sends(&live, &anna, name, bytes).await;
        assert_eq!(
            (got, body["error"]["code"].as_str()),
            (status, Some(code)),
            "{name}: {body}"
        );
    }

    // The company's own rules: smaller files, fewer kinds, a few a day.
    live.update_settings(&live.acme, json!({"files": {"max_mib": 1, "accepted": ["images", "text"], "visitor_files_per_day": 2}})).await;
    let (status, body) = visitor_sends(&live, &anna, "big.txt", vec![b'a'; 1024 * 1024 + 1]).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::PAYLOAD_TOO_LARGE, Some("file_too_large")),
        "{body}"
    );
    let (status, body) = visitor_sends(&live, &anna, "receipt.pdf", PDF.to_vec()).await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("accepted: images, text"),
        "{body}"
    );

    // Nothing of it was kept: no message, no bytes.
    let (_, dialog) = live.visitor_call(&anna, Method::GET, "/chat", None).await;
    assert!(
        dialog["messages"].as_array().is_none_or(|m| m.is_empty()),
        "{dialog}"
    );
    assert_eq!(files_on_disk(&live), 0);

    for n in 0..2 {
        let (status, body) =
            visitor_sends(&live, &anna, &format!("note-{n}.txt"), b"hello".to_vec()).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    let (status, body) = visitor_sends(&live, &anna, "note-3.txt", b"hello".to_vec()).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::TOO_MANY_REQUESTS, Some("too_many_files")),
        "{body}"
    );

    // No files from visitors at all.
    live.update_settings(&live.acme, json!({"files": {"from_visitors": false}}))
        .await;
    let boris = live.visitor(&live.acme).await;
    let (status, body) = visitor_sends(&live, &boris, "a.txt", b"hi".to_vec()).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("files_off")),
        "{body}"
    );

    // The platform's storage limit for the company: what its files take is counted.
    let (status, body) = live
        .call(
            Method::PATCH,
            &format!("/api/v1/platform/tenants/{}", live.globex.id),
            Some(crate::support::live::PLATFORM_TOKEN),
            Some(json!({"limits": {"storage_mib": 1}})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let vera = live.visitor(&live.globex).await;
    let (status, body) = visitor_sends(&live, &vera, "a.txt", vec![b'a'; 700_000]).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, body) = visitor_sends(&live, &vera, "b.txt", vec![b'b'; 700_000]).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::INSUFFICIENT_STORAGE, Some("storage_full")),
        "{body}"
    );
    assert_eq!(files_on_disk(&live), 3, "the two notes and a.txt");
}

async fn a_file_is_deleted_by_its_author_and_never_edited(live: Live) {
    let olga = live.online_operator(&live.acme, "Olga").await;
    let anna = live.visitor(&live.acme).await;
    let path = format!("/api/v1/widget/{}/chat/files", anna.key);
    // Sent twice with one client id (a retry after a lost answer): one message, one file.
    let (status, first) = upload(
        &live,
        &path,
        &anna.token,
        "lamp.png",
        png(100, 100),
        Some("c-lamp"),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{first}");
    let (status, again) = upload(
        &live,
        &path,
        &anna.token,
        "lamp.png",
        png(100, 100),
        Some("c-lamp"),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{again}");
    assert_eq!(again["id"], first["id"]);
    assert_eq!(
        files_on_disk(&live),
        1,
        "no thumbnail for a small image, no second copy"
    );
    let text = live.visitor_says(&anna, "That is the lamp.").await;
    let chat = chat_of(&live, &anna).await;
    let id = first["id"].as_str().unwrap();
    let file = first["attachment"]["id"].as_str().unwrap();

    let (status, body) = live
        .visitor_call(
            &anna,
            Method::PATCH,
            &format!("/chat/messages/{id}"),
            Some(json!({"body": "renamed"})),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "a file is not edited: {body}");
    let (status, body) = live
        .visitor_call(
            &anna,
            Method::DELETE,
            &format!("/chat/messages/{}", text["id"].as_str().unwrap()),
            None,
        )
        .await;
    assert_eq!(
        status,
        StatusCode::CONFLICT,
        "a text is edited, not deleted: {body}"
    );
    let (status, body) = live
        .call(
            Method::DELETE,
            &format!("/api/v1/chats/{chat}/messages/{id}"),
            Some(&olga.token),
            None,
        )
        .await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "not the operator's file: {body}"
    );

    let mut watch = live.operator_socket(&olga.token).await;
    let (status, deleted) = live
        .visitor_call(&anna, Method::DELETE, &format!("/chat/messages/{id}"), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{deleted}");
    assert!(deleted["deleted_at"].is_string());
    assert_eq!(deleted["body"], "");
    assert!(deleted["attachment"].is_null());
    let told = watch
        .expect_where("message.updated", |f| f["message"]["id"] == id)
        .await;
    assert!(
        told["message"]["deleted_at"].is_string(),
        "operators see it go live"
    );
    let (status, _, _) = download(&live, &format!("/api/v1/files/{file}"), Some(&olga.token)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(files_on_disk(&live), 0, "its bytes are gone too");
    // It keeps its place in the dialog, empty.
    let dialog = live.dialog(&olga.token, &chat).await;
    assert_eq!(dialog["messages"][0]["id"], id);
    assert!(dialog["messages"][0]["deleted_at"].is_string());

    // Deleting does not give the day's allowance back.
    live.update_settings(&live.acme, json!({"files": {"visitor_files_per_day": 1}}))
        .await;
    let (status, body) = visitor_sends(&live, &anna, "again.png", png(100, 100)).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::TOO_MANY_REQUESTS, Some("too_many_files")),
        "{body}"
    );
    // A name that would open as something else is given the content's own extension.
    let (status, script) =
        operator_sends(&live, &olga, &chat, "fix.py", b"print('hi')\n".to_vec()).await;
    assert_eq!(status, StatusCode::CREATED, "{script}");
    assert_eq!(script["attachment"]["name"], "fix.py.txt");

    // An operator deletes a file of theirs.
    let (_, reply) = operator_sends(&live, &olga, &chat, "label.pdf", PDF.to_vec()).await;
    let (status, body) = live
        .call(
            Method::DELETE,
            &format!(
                "/api/v1/chats/{chat}/messages/{}",
                reply["id"].as_str().unwrap()
            ),
            Some(&olga.token),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

async fn an_unread_file_reply_is_mailed_with_its_link(db: TestDatabase) {
    let (live, smtp) = Live::with_smtp(db, &[("TANDEM_SWEEP_EVERY_SECS", "1")]).await;
    live.update_settings(
        &live.acme,
        json!({"offline_timeout_secs": 1, "presence_grace_secs": 0}),
    )
    .await;
    let anna = live.visitor(&live.acme).await;
    let chat = live
        .offline_request(&anna, "Anna", "anna@example.org", "Do you have the manual?")
        .await;
    let olga = live.online_operator(&live.acme, "Olga").await;
    let (status, reply) = operator_sends(&live, &olga, &chat, "manual.pdf", PDF.to_vec()).await;
    assert_eq!(status, StatusCode::CREATED, "{reply}");
    let file = reply["attachment"]["id"].as_str().unwrap();

    let mut mail = None;
    for _ in 0..100 {
        if let Some(m) = smtp.to_visitors().into_iter().next() {
            mail = Some(m.data.replace("=\r\n", "").replace("=3D", "="));
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mail = mail.expect("the unread reply is mailed");
    assert!(mail.contains("manual.pdf"), "{mail}");
    let start = mail
        .find(&format!("/api/v1/widget/{}/files/{file}?", anna.key))
        .expect("a link to the file");
    let link: String = mail[start..]
        .chars()
        .take_while(|c| !c.is_whitespace() && *c != '"' && *c != '<')
        .collect();
    let link = link.replace("&amp;", "&");

    // The link opens the file without logging in; altered, it opens nothing.
    let (status, _, bytes) = download(&live, &link, None).await;
    assert_eq!(status, StatusCode::OK, "{link}");
    assert_eq!(bytes, PDF);
    let (status, _, _) = download(&live, &link.replace("signature=", "signature=x"), None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let foreign = link.replace(&anna.key, &live.globex.widget_key);
    let (status, _, _) = download(&live, &foreign, None).await;
    assert!(
        matches!(status, StatusCode::UNAUTHORIZED | StatusCode::NOT_FOUND),
        "{status}"
    );
}

/// An upload that sends its headers and a little of its body, then nothing: it holds a place
/// until its connection closes. It comes from 127.0.0.`source` (one address holds at most two).
async fn stalled_upload(live: &Live, visitor: &Visitor, source: u8) -> tokio::net::TcpStream {
    use tokio::io::AsyncWriteExt;
    let address = live
        .server
        .base_url()
        .trim_start_matches("http://")
        .to_owned();
    let socket = tokio::net::TcpSocket::new_v4().expect("a socket");
    socket
        .bind(std::net::SocketAddr::from(([127, 0, 0, source], 0)))
        .expect("a loopback address of its own");
    let mut socket = socket
        .connect(address.parse().expect("the server's address"))
        .await
        .expect("the server listens");
    let request = format!(
        "POST /api/v1/widget/{}/chat/files?name=slow.txt HTTP/1.1\r\nHost: {address}\r\n\
         Authorization: Bearer {}\r\nContent-Type: application/octet-stream\r\n\
         Content-Length: 100000\r\n\r\nthe first bytes",
        visitor.key, visitor.token
    );
    socket
        .write_all(request.as_bytes())
        .await
        .expect("the request goes");
    socket
}

async fn one_company_s_uploads_leave_room_for_the_others(live: Live) {
    let anna = live.visitor(&live.acme).await;
    live.visitor_says(&anna, "Hello").await;
    // Four uploads that hold their places. Once they all do, the company's next upload waits
    // for a place (503). An empty one asks without sending a file: with a place it is refused
    // as empty (400) — and while it holds that place, a stalled upload arriving is refused,
    // which is then opened again.
    let mut stalled = Vec::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        stalled.retain(|socket: &tokio::net::TcpStream| {
            matches!(socket.try_read(&mut [0u8; 64]), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock)
        });
        while stalled.len() < 4 {
            let source = 2 + u8::try_from(stalled.len()).expect("a few");
            stalled.push(stalled_upload(&live, &anna, source).await);
        }
        let (status, body) = visitor_sends(&live, &anna, "empty.txt", Vec::new()).await;
        if status == StatusCode::SERVICE_UNAVAILABLE {
            break;
        }
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert!(
            std::time::Instant::now() < deadline,
            "the stalled uploads never held a place"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    // …while another company's go through.
    let ben = live.visitor(&live.globex).await;
    let (status, body) = visitor_sends(&live, &ben, "order.txt", b"order 42".to_vec()).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    // Their places free when their connections go.
    drop(stalled);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let (status, body) = visitor_sends(&live, &anna, "empty.txt", Vec::new()).await;
        if status == StatusCode::BAD_REQUEST {
            break;
        }
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
        assert!(
            std::time::Instant::now() < deadline,
            "the places were never freed"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let (status, body) = visitor_sends(&live, &anna, "later.txt", b"later".to_vec()).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
}

/// A JPEG whose EXIF block names a camera "SECRET-PLACE" (as a phone's names where it was) and
/// says it is turned a quarter (orientation 6).
fn photo_that_says_too_much() -> Vec<u8> {
    let image = image::RgbImage::from_fn(64, 32, |x, y| {
        image::Rgb([(x * 4) as u8, (y * 8) as u8, 90])
    });
    let mut jpeg = Cursor::new(Vec::new());
    image
        .write_to(&mut jpeg, image::ImageFormat::Jpeg)
        .expect("a JPEG");
    let jpeg = jpeg.into_inner();
    let mut tiff = b"MM\0\x2a\0\0\0\x08".to_vec();
    tiff.extend_from_slice(&2u16.to_be_bytes());
    tiff.extend_from_slice(&[0x01, 0x0f, 0, 2, 0, 0, 0, 13, 0, 0, 0, 38]);
    tiff.extend_from_slice(&[0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, 6, 0, 0]);
    tiff.extend_from_slice(&[0, 0, 0, 0]);
    tiff.extend_from_slice(b"SECRET-PLACE\0");
    let mut app1 = b"Exif\0\0".to_vec();
    app1.extend(tiff);
    let length = u16::try_from(app1.len() + 2).expect("small");
    let mut out = jpeg[..2].to_vec();
    out.extend_from_slice(&[0xff, 0xe1]);
    out.extend_from_slice(&length.to_be_bytes());
    out.extend(app1);
    out.extend_from_slice(&jpeg[2..]);
    out
}

async fn a_photo_s_metadata_stays_with_its_sender(live: Live) {
    let anna = live.visitor(&live.acme).await;
    let photo = photo_that_says_too_much();
    let (status, sent) = visitor_sends(&live, &anna, "holiday.jpg", photo.clone()).await;
    assert_eq!(status, StatusCode::CREATED, "{sent}");
    let attachment = &sent["attachment"];
    // Upright it is 32 wide and 64 high: the orientation was read, and is kept.
    assert_eq!(
        (attachment["width"].as_u64(), attachment["height"].as_u64()),
        (Some(32), Some(64)),
        "{sent}"
    );
    let id = attachment["id"].as_str().expect("a file id");
    let (status, _, kept) = download(
        &live,
        &format!("/api/v1/files/{id}"),
        Some(&live.acme.admin_token),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let says = |bytes: &[u8], what: &[u8]| bytes.windows(what.len()).any(|w| w == what);
    assert!(says(&photo, b"SECRET-PLACE"));
    assert!(!says(&kept, b"SECRET-PLACE"), "the camera's words are gone");
    assert_eq!(
        attachment["size"].as_u64(),
        Some(kept.len() as u64),
        "the size is what is kept"
    );
    let decoded = image::load_from_memory(&kept).expect("still an image");
    assert_eq!(
        (decoded.width(), decoded.height()),
        (64, 32),
        "the pixels as sent"
    );
}

async fn database(db: TestDatabase) -> TestDatabase {
    db
}

mod disk {
    use super::*;

    tandem_testkit::on_both_databases!(
        on_disk =>
        a_visitor_and_an_operator_exchange_files,
        refused_files_leave_nothing_behind,
        a_file_is_deleted_by_its_author_and_never_edited,
        one_company_s_uploads_leave_room_for_the_others,
        a_photo_s_metadata_stays_with_its_sender,
    );
}

mod s3 {
    use super::*;

    tandem_testkit::on_both_databases!(
        on_s3 =>
        a_visitor_and_an_operator_exchange_files_on_s3,
    );
}

mod mail {
    use super::*;

    tandem_testkit::on_both_databases!(
        database =>
        an_unread_file_reply_is_mailed_with_its_link,
    );
}
