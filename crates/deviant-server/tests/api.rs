//! The API through the router, without a socket: every refusal is a 4xx with a JSON
//! `error`, and a dataset goes from upload to a trained, scoring model.

use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use deviant_server::{AppState, ServerConfig, app};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;

struct Server {
    app: Router,
    token: String,
    _home: tempfile::TempDir,
}

fn server_with(max_upload_bytes: usize) -> Server {
    server_configured(|config| config.max_upload_bytes = max_upload_bytes)
}

fn server_configured(change: impl FnOnce(&mut ServerConfig)) -> Server {
    let home = tempfile::tempdir().unwrap();
    let mut config = ServerConfig {
        home: home.path().to_path_buf(),
        max_upload_bytes: 1 << 20,
        read_limits: deviant_data::ReadLimits {
            max_bytes: 4 << 20,
            ..Default::default()
        },
        require_token: true,
        workers: 1,
        max_queued_runs: 64,
        cached_models: std::num::NonZeroUsize::new(16).unwrap(),
        max_score_rows: 100_000,
        tls: false,
    };
    change(&mut config);
    let (state, token) = AppState::start(config, false).unwrap();
    Server {
        app: app(state),
        token: token.expect("a first start makes a token"),
        _home: home,
    }
}

fn server() -> Server {
    server_with(1 << 20)
}

/// A labelled table: two numeric features and a protocol; every 5th row is an anomaly far
/// from the others.
fn table(rows: usize) -> String {
    let mut out = String::from("bytes,duration,proto,label\n");
    for i in 0..rows {
        let anomaly = i % 5 == 4;
        let (bytes, duration) = if anomaly {
            (900.0 + i as f64, 50.0)
        } else {
            (100.0 + (i % 17) as f64, 1.0 + (i % 3) as f64)
        };
        let proto = ["tcp", "udp"][i % 2];
        out.push_str(&format!(
            "{bytes},{duration},{proto},{}\n",
            u8::from(anomaly)
        ));
    }
    out
}

fn multipart(file_name: &str, content: &[u8]) -> (String, Vec<u8>) {
    let boundary = "deviant-test-boundary";
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{file_name}\"\r\n\
         Content-Type: application/octet-stream\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(content);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

impl Server {
    async fn call(&self, request: Request<Body>) -> (StatusCode, Value) {
        let response = self.app.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        let value = serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
        (status, value)
    }

    fn request(&self, method: &str, uri: &str) -> axum::http::request::Builder {
        Request::builder()
            .method(method)
            .uri(uri)
            .header(header::AUTHORIZATION, format!("Bearer {}", self.token))
    }

    async fn get(&self, uri: &str) -> (StatusCode, Value) {
        self.call(self.request("GET", uri).body(Body::empty()).unwrap())
            .await
    }

    async fn post_json(&self, uri: &str, body: Value) -> (StatusCode, Value) {
        self.call(
            self.request("POST", uri)
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(body.to_string()))
                .unwrap(),
        )
        .await
    }

    async fn upload(&self, file_name: &str, content: &[u8]) -> (StatusCode, Value) {
        let (content_type, body) = multipart(file_name, content);
        self.call(
            self.request("POST", "/api/v1/datasets")
                .header(header::CONTENT_TYPE, content_type)
                .body(Body::from(body))
                .unwrap(),
        )
        .await
    }

    /// Polls a run until it ends.
    async fn finished(&self, id: &str) -> Value {
        let started = Instant::now();
        loop {
            let (status, run) = self.get(&format!("/api/v1/runs/{id}")).await;
            assert_eq!(status, StatusCode::OK, "{run}");
            if ["succeeded", "failed", "cancelled"].contains(&run["status"].as_str().unwrap()) {
                return run;
            }
            assert!(
                started.elapsed() < Duration::from_secs(120),
                "run {id} never ended"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// A response's whole body as text.
async fn text_of(response: axum::response::Response) -> String {
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    String::from_utf8(bytes.to_vec()).unwrap()
}

fn error_of(body: &Value) -> &str {
    body["error"]
        .as_str()
        .unwrap_or_else(|| panic!("no JSON error in {body}"))
}

#[tokio::test]
async fn calls_without_the_token_are_refused() {
    let s = server();
    let (status, body) = s
        .call(Request::get("/api/v1/health").body(Body::empty()).unwrap())
        .await;
    assert_eq!(
        (status, body["status"].as_str()),
        (StatusCode::OK, Some("ok"))
    );
    for token in [None, Some("wrong")] {
        let mut request = Request::get("/api/v1/datasets");
        if let Some(token) = token {
            request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        let (status, body) = s.call(request.body(Body::empty()).unwrap()).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert!(error_of(&body).contains("Authorization: Bearer"));
    }
    let (status, body) = s.get("/api/v1/datasets").await;
    assert_eq!((status, body), (StatusCode::OK, json!([])));
}

#[tokio::test]
async fn the_dashboard_asks_for_the_token_once() {
    let s = server();
    let response = s
        .app
        .clone()
        .oneshot(Request::get("/runs").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(response.headers()[header::LOCATION], "/login");
    let login = |token: String| {
        Request::post("/login")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(format!("token={token}")))
            .unwrap()
    };
    let wrong = s.app.clone().oneshot(login("nope".into())).await.unwrap();
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    let right = s.app.clone().oneshot(login(s.token.clone())).await.unwrap();
    assert_eq!(right.status(), StatusCode::SEE_OTHER);
    let cookie = right.headers()[header::SET_COOKIE].to_str().unwrap();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    let (status, css) = s
        .call(
            Request::get("/assets/style.css")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(css.as_str().unwrap().contains("@media"));
}

/// A request from `ip`, as `serve` hands it over (with the client's address).
fn from_client(ip: [u8; 4], request: axum::http::request::Builder) -> Request<Body> {
    let address = std::net::SocketAddr::from((ip, 40_000));
    request
        .extension(axum::extract::ConnectInfo(address))
        .body(Body::empty())
        .unwrap()
}

#[tokio::test]
async fn a_burst_of_wrong_tokens_is_throttled_per_client() {
    let s = server();
    let attempt = |ip: [u8; 4], token: &str| {
        from_client(
            ip,
            Request::get("/api/v1/datasets")
                .header(header::AUTHORIZATION, format!("Bearer {token}")),
        )
    };
    for _ in 0..10 {
        let (status, _) = s.call(attempt([10, 0, 0, 1], "guess")).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    // The eleventh is refused before its token is looked at, the right one included.
    for token in ["guess", s.token.as_str()] {
        let response = s
            .app
            .clone()
            .oneshot(attempt([10, 0, 0, 1], token))
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
        let wait: u64 = response.headers()[header::RETRY_AFTER]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!((1..=60).contains(&wait), "Retry-After {wait}");
    }
    // The dashboard's sign-in counts against the same client.
    let login = Request::post("/login")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .extension(axum::extract::ConnectInfo(std::net::SocketAddr::from((
            [10, 0, 0, 1],
            1,
        ))))
        .body(Body::from(format!("token={}", s.token)))
        .unwrap();
    let (status, _) = s.call(login).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    // Another client, and calls without a token, are not held back.
    let (status, _) = s.call(attempt([10, 0, 0, 2], &s.token)).await;
    assert_eq!(status, StatusCode::OK);
    for _ in 0..20 {
        let (status, _) = s
            .call(from_client([10, 0, 0, 3], Request::get("/api/v1/datasets")))
            .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
}

#[tokio::test]
async fn pages_carry_security_headers_and_no_inline_script() {
    let s = server();
    let (_, upload) = s.upload("flows.csv", table(60).as_bytes()).await;
    let dataset = upload["id"].as_str().unwrap().to_string();
    let pages = [
        "/",
        "/train",
        "/runs",
        "/streams",
        &format!("/datasets/{dataset}"),
    ];
    for page in pages {
        let response = s
            .app
            .clone()
            .oneshot(s.request("GET", page).body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{page}");
        let headers = response.headers().clone();
        let policy = headers[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
        assert!(
            policy.contains("script-src 'self'") && !policy.contains("unsafe-inline"),
            "{policy}"
        );
        assert!(policy.contains("frame-ancestors 'none'"), "{policy}");
        assert_eq!(headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
        let html = text_of(response).await;
        // Every script is the shared file or a JSON data block, which does not run.
        for script in html.split("<script").skip(1) {
            let tag = &script[..script.find('>').unwrap()];
            assert!(
                tag.contains(r#"src="/assets/app.js""#)
                    || tag.contains(r#"type="application/json""#),
                "{page}: inline script <script{tag}>"
            );
        }
        assert!(!html.contains(" onclick="), "{page}");
    }
    let (status, _) = s.get("/api/v1/health").await;
    assert_eq!(status, StatusCode::OK);
    let response = s
        .app
        .clone()
        .oneshot(Request::get("/api/v1/health").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(
        response.headers()[header::X_CONTENT_TYPE_OPTIONS],
        "nosniff"
    );
}

#[tokio::test]
async fn requests_axum_refuses_before_a_handler_get_json_errors_too() {
    let s = server();
    // No Content-Type on a JSON body, a query that does not parse, a multipart body without
    // its boundary: each a documented status with a JSON `error`.
    let no_type = s
        .request("POST", "/api/v1/runs")
        .body(Body::from("{}"))
        .unwrap();
    let (status, body) = s.call(no_type).await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert!(error_of(&body).contains("Content-Type"), "{body}");
    let bad_query = s
        .request(
            "POST",
            "/api/v1/runs/0000000000000000/score?top_features=many",
        )
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(r#"{"rows": []}"#))
        .unwrap();
    let (status, body) = s.call(bad_query).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(error_of(&body).contains("top_features"), "{body}");
    let no_boundary = s
        .request("POST", "/api/v1/datasets")
        .header(header::CONTENT_TYPE, "multipart/form-data")
        .body(Body::from("x"))
        .unwrap();
    let (status, body) = s.call(no_boundary).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(error_of(&body).contains("boundary"), "{body}");
    let spec = deviant_server::openapi_spec();
    let responses = &spec["paths"]["/api/v1/runs"]["post"]["responses"];
    for code in ["400", "413", "415", "429"] {
        assert!(responses.get(code).is_some(), "{code} is documented");
    }
}

#[tokio::test]
async fn bad_uploads_are_refused_with_their_reason() {
    let s = server_with(4096);
    let (status, body) = s.upload("table.feather", b"ARROW1").await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert!(error_of(&body).contains(".csv or .tsv"));
    let (status, body) = s.upload("table.parquet", b"PAR1").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        error_of(&body).contains("not a readable Parquet file"),
        "{body}"
    );
    let (status, body) = s.upload("book.xlsx", b"PK\x03\x04").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        error_of(&body).contains("book.xlsx: not a readable workbook"),
        "{body}"
    );
    let (status, body) = s.upload("rows.json", b"[{\"a\": 1}, 2]").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        error_of(&body).contains("row 2 is 2, not an object"),
        "{body}"
    );
    let (status, body) = s.upload("empty.csv", b"").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(error_of(&body).contains("empty"));
    let (status, body) = s.upload("ragged.csv", b"a,b\n1,2\n3\n").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        error_of(&body).contains("ragged.csv") && error_of(&body).contains("line 3"),
        "{body}"
    );
    let (status, body) = s.upload("big.csv", table(2000).as_bytes()).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
    error_of(&body);
    // Nothing of the refused uploads is left.
    assert_eq!(s.get("/api/v1/datasets").await.1, json!([]));
}

#[tokio::test]
async fn a_gzip_bomb_and_a_header_too_wide_are_refused_naming_their_limit() {
    use std::io::Write;
    let s = server();
    // 16 MiB of rows in about 16 KiB, against a 4 MiB limit on what an upload expands to.
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gz.write_all(b"a,b\n").unwrap();
    for _ in 0..(4 << 20) {
        gz.write_all(b"0,0\n").unwrap();
    }
    let bomb = gz.finish().unwrap();
    let (status, body) = s.upload("flows.csv.gz", &bomb).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
    let message = error_of(&body);
    assert!(
        message.contains("flows.csv.gz") && message.contains("--max-expanded-mb"),
        "{message}"
    );
    let header: Vec<String> = (0..20_000).map(|i| format!("c{i}")).collect();
    let wide = format!("{}\n{}\n", header.join(","), vec!["1"; 20_000].join(","));
    let (status, body) = s.upload("wide.csv", wide.as_bytes()).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(
        error_of(&body).contains("more than the 10000 a table may have"),
        "{body}"
    );
    assert_eq!(s.get("/api/v1/datasets").await.1, json!([]));
}

#[tokio::test]
async fn json_rows_and_workbooks_upload_like_a_csv() {
    let s = server();
    let ndjson = "{\"bytes\": 10, \"proto\": \"tcp\"}\n{\"bytes\": 12.5, \"proto\": \"udp\"}\n";
    let (status, dataset) = s.upload("flows.ndjson", ndjson.as_bytes()).await;
    assert_eq!(status, StatusCode::CREATED, "{dataset}");
    assert_eq!(dataset["rows"], 2);
    assert_eq!(
        dataset["columns"],
        json!([{"name": "bytes", "kind": "numeric"}, {"name": "proto", "kind": "categorical"}])
    );
    let (status, dataset) = s
        .upload("flows.json", br#"[{"bytes": 1, "proto": "tcp"}]"#)
        .await;
    assert_eq!(
        (status, dataset["rows"].as_u64()),
        (StatusCode::CREATED, Some(1))
    );
}

#[tokio::test]
async fn unknown_ids_and_endpoints_are_404s() {
    let s = server();
    for uri in [
        "/api/v1/datasets/0123456789abcdef",
        "/api/v1/runs/0123456789abcdef",
        "/api/v1/runs/..%2F..%2Fetc",
        "/api/v1/nothing",
    ] {
        let (status, body) = s.get(uri).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{uri}");
        error_of(&body);
    }
    let (status, body) = s
        .post_json(
            "/api/v1/runs/0123456789abcdef/score",
            json!({"rows": [{"a": 1}]}),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    error_of(&body);
}

#[tokio::test]
async fn every_documented_path_is_routed() {
    let s = server();
    let (_, spec) = s.get("/api/v1/openapi.json").await;
    assert_eq!(spec["openapi"], "3.1.0");
    let paths = spec["paths"].as_object().unwrap();
    assert_eq!(paths.len(), 18);
    for (path, item) in paths {
        let uri = path.replace("{id}", "0123456789abcdef");
        for method in ["get", "post", "delete"] {
            if item.get(method).is_none() {
                continue;
            }
            let (_, body) = s
                .call(
                    s.request(&method.to_uppercase(), &uri)
                        .header(header::CONTENT_TYPE, "application/json")
                        .body(Body::from("{}"))
                        .unwrap(),
                )
                .await;
            assert_ne!(
                body.get("error").and_then(Value::as_str),
                Some("no such endpoint"),
                "{method} {path}"
            );
        }
    }
}

#[tokio::test]
async fn upload_train_and_score_end_to_end() {
    let s = server();
    let (status, dataset) = s.upload("traffic.csv", table(400).as_bytes()).await;
    assert_eq!(status, StatusCode::CREATED, "{dataset}");
    assert_eq!(dataset["rows"], 400);
    assert_eq!(dataset["name"], "traffic.csv");
    assert_eq!(
        dataset["columns"][2],
        json!({"name": "proto", "kind": "categorical"})
    );
    let id = dataset["id"].as_str().unwrap();
    let (status, summary) = s.get(&format!("/api/v1/datasets/{id}/summary")).await;
    assert_eq!(status, StatusCode::OK, "{summary}");
    assert_eq!(summary["rows"], 400);
    let label = &summary["columns"][3];
    assert_eq!(label["name"], "label");
    assert_eq!(
        label["top"],
        json!([["0", 320], ["1", 80]]),
        "label balance"
    );
    assert_eq!(
        summary["columns"][0]["numeric"]["histogram"]
            .as_array()
            .unwrap()
            .len(),
        20
    );

    // Requests that cannot work are refused before anything is queued.
    for (request, expected) in [
        (json!({"dataset": id, "detector": "nope"}), "nope"),
        (
            json!({"dataset": id, "detector": "pca", "label": "class"}),
            "no column `class`",
        ),
        (
            json!({"dataset": id, "detector": "pca", "threshold": "median"}),
            "median",
        ),
        (
            json!({"dataset": id, "detector": "pca", "test_share": 0.7, "validation_share": 0.3}),
            "at least 20 %",
        ),
        (
            json!({"dataset": id, "detector": "pca", "colour": "red"}),
            "colour",
        ),
    ] {
        let (status, body) = s.post_json("/api/v1/runs", request).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert!(error_of(&body).contains(expected), "{body}");
    }
    assert_eq!(s.get("/api/v1/runs").await.1, json!([]));

    let (status, run) = s
        .post_json(
            "/api/v1/runs",
            json!({"dataset": id, "detector": "pca", "label": "label"}),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{run}");
    let run_id = run["id"].as_str().unwrap().to_string();
    let run = s.finished(&run_id).await;
    assert_eq!(run["status"], "succeeded", "{run}");
    assert!(run["has_model"].as_bool().unwrap());
    let metrics = &run["metrics"];
    assert_eq!(metrics["split"], "test");
    assert_eq!(metrics["rows"], 80, "20 % of 400 rows held out");
    assert_eq!(metrics["threshold_chosen_on"], "validation");
    assert!(
        metrics["evaluation"]["roc_auc"].as_f64().unwrap() > 0.99,
        "{metrics}"
    );

    let (status, scored) = s
        .post_json(
            &format!("/api/v1/runs/{run_id}/score"),
            json!({"rows": [
                {"bytes": 105, "duration": 2, "proto": "tcp"},
                {"bytes": 5000, "duration": 60, "proto": "udp"}
            ]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{scored}");
    let rows = scored["rows"].as_array().unwrap();
    assert_eq!(rows[0]["anomaly"], false);
    assert_eq!(rows[1]["anomaly"], true);
    assert_eq!(rows[1]["top_features"].as_array().unwrap().len(), 3);
    assert!(rows[1]["score"].as_f64().unwrap() > rows[0]["score"].as_f64().unwrap());

    // The model downloads as a tar archive of its directory.
    let response = s
        .app
        .clone()
        .oneshot(
            s.request("GET", &format!("/api/v1/runs/{run_id}/model"))
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers()[header::CONTENT_TYPE],
        "application/x-tar"
    );
    let archive = response.into_body().collect().await.unwrap().to_bytes();
    let names: Vec<String> = tar::Archive::new(&archive[..])
        .entries()
        .unwrap()
        .map(|e| e.unwrap().path().unwrap().display().to_string())
        .collect();
    assert!(
        names.contains(&format!("deviant-model-{run_id}/manifest.json")),
        "{names:?}"
    );

    // The same rows as CSV.
    let (status, scored_csv) = s
        .call(
            s.request(
                "POST",
                &format!("/api/v1/runs/{run_id}/score?top_features=1"),
            )
            .header(header::CONTENT_TYPE, "text/csv")
            .body(Body::from("bytes,duration,proto\n105,2,tcp\n5000,60,udp\n"))
            .unwrap(),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{scored_csv}");
    assert_eq!(scored_csv["rows"][1]["score"], rows[1]["score"]);
    assert_eq!(
        scored_csv["rows"][1]["top_features"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let (status, body) = s
        .call(
            s.request("POST", &format!("/api/v1/runs/{run_id}/score"))
                .header(header::CONTENT_TYPE, "text/csv")
                .body(Body::from("bytes,duration,proto\n105,2,tcp\nlots,2,tcp\n"))
                .unwrap(),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        error_of(&body).contains("the CSV body: line 3, column `bytes`"),
        "{body}"
    );

    // A wrong feature set is a clear 422.
    let (status, body) = s
        .post_json(
            &format!("/api/v1/runs/{run_id}/score"),
            json!({"rows": [{"bytes": 1, "proto": "tcp"}]}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(error_of(&body).contains("`duration`: missing"), "{body}");
    let (status, body) = s
        .post_json(
            &format!("/api/v1/runs/{run_id}/score"),
            json!({"rows": [{"bytes": 1, "duration": 1, "proto": "tcp", "port": 80}]}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(error_of(&body).contains("unknown column `port`"), "{body}");
    // A finite value that no 32-bit detector can take is the client's error, named.
    let (status, body) = s
        .post_json(
            &format!("/api/v1/runs/{run_id}/score"),
            json!({"rows": [{"bytes": 1, "duration": 1, "proto": "tcp"},
                            {"bytes": 1e300, "duration": 1, "proto": "tcp"}]}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(error_of(&body).contains("line 2, column `bytes`"), "{body}");

    // A per-batch threshold flags a batch, and refuses rows scored as they come.
    let (status, run) = s
        .post_json(
            "/api/v1/runs",
            json!({"dataset": id, "detector": "pca", "label": "label", "threshold": "top:20"}),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{run}");
    let top_id = run["id"].as_str().unwrap().to_string();
    assert_eq!(s.finished(&top_id).await["status"], "succeeded");
    let one_row = json!({"rows": [{"bytes": 105, "duration": 2, "proto": "tcp"}]});
    let (status, body) = s
        .post_json(&format!("/api/v1/runs/{top_id}/score"), one_row.clone())
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(error_of(&body).contains("top:20"), "{body}");
    let (status, body) = s
        .post_json(&format!("/api/v1/runs/{top_id}/score?batch=true"), one_row)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // A finished run's event stream says how it ended, then closes.
    let (status, events) = s.get(&format!("/api/v1/runs/{run_id}/events")).await;
    assert_eq!(status, StatusCode::OK);
    let events = events.as_str().unwrap();
    assert!(
        events.contains("event: progress") && events.contains("\"succeeded\""),
        "{events}"
    );
    let (status, body) = s
        .post_json(&format!("/api/v1/runs/{run_id}/cancel"), json!({}))
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    error_of(&body);

    // The dashboard renders every page of this dataset and run for a signed-in browser.
    let cookie = format!("deviant_token={}", s.token);
    let page = |uri: String| {
        let cookie = cookie.clone();
        let app = s.app.clone();
        async move {
            let response = app
                .oneshot(
                    Request::get(uri.as_str())
                        .header(header::COOKIE, cookie)
                        .body(Body::empty())
                        .unwrap(),
                )
                .await
                .unwrap();
            let status = response.status();
            let bytes = response.into_body().collect().await.unwrap().to_bytes();
            (status, String::from_utf8(bytes.to_vec()).unwrap())
        }
    };
    for (uri, expected) in [
        ("/".to_string(), "traffic.csv"),
        (format!("/datasets/{id}"), "Numeric columns"),
        (format!("/train?dataset={id}"), "\"kind\":\"ae\""),
        ("/runs".to_string(), "succeeded"),
        (format!("/runs/{run_id}"), "id=\"threshold\""),
        (format!("/runs/compare?ids={run_id}"), "ROC curves"),
        (format!("/predict/{run_id}"), "bytes,duration,proto"),
    ] {
        let (status, html) = page(uri.clone()).await;
        assert_eq!(status, StatusCode::OK, "{uri}: {html}");
        assert!(html.contains(expected), "{uri} lacks {expected}");
        assert!(html.starts_with("<!DOCTYPE html>"), "{uri}");
    }
    let (status, missing) = page("/runs/0123456789abcdef".to_string()).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(missing.starts_with("<!DOCTYPE html>") && missing.contains("no run with id"));
    let (_, run_html) = page(format!("/runs/{run_id}")).await;
    assert!(
        run_html.matches("<svg ").count() >= 6,
        "the report's charts"
    );
    let (status, _) = s
        .call(
            Request::get("/api/v1/runs")
                .header(header::COOKIE, cookie.clone())
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::OK,
        "the API takes the session cookie too"
    );

    // Deleting the dataset keeps the run and its model.
    let (status, _) = s
        .call(
            s.request("DELETE", &format!("/api/v1/datasets/{id}"))
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(
        s.get(&format!("/api/v1/datasets/{id}")).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        s.get(&format!("/api/v1/runs/{run_id}")).await.0,
        StatusCode::OK
    );
}

/// `POST /api/v1/selections`: selection on the labelled validation rows, its leaderboard,
/// then a run like any other (test metrics, scoring).
#[tokio::test]
async fn a_supervised_learner_is_a_run_with_train_metrics_importance_and_history() {
    let s = server();
    let (_, dataset) = s.upload("traffic.csv", table(600).as_bytes()).await;
    let id = dataset["id"].as_str().unwrap();
    let (status, body) = s
        .post_json("/api/v1/runs", json!({"dataset": id, "detector": "gbt"}))
        .await;
    // Without a label the run is accepted and fails, saying what to name.
    if status == StatusCode::ACCEPTED {
        let run = s.finished(body["id"].as_str().unwrap()).await;
        assert_eq!(run["status"], "failed", "{run}");
        assert!(run["error"].as_str().unwrap().contains("label"), "{run}");
    } else {
        assert!(error_of(&body).contains("label"), "{body}");
    }
    for detector in ["gbt", "mlp_classifier"] {
        let params = match detector {
            "mlp_classifier" => json!({"training": {"epochs": 3}}),
            _ => json!({}),
        };
        let request =
            json!({"dataset": id, "detector": detector, "label": "label", "params": params});
        let (status, run) = s.post_json("/api/v1/runs", request).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{run}");
        let run_id = run["id"].as_str().unwrap();
        let run = s.finished(run_id).await;
        assert_eq!(run["status"], "succeeded", "{run}");
        let metrics = &run["metrics"];
        assert_eq!(metrics["supervised"], true, "{run}");
        assert!(metrics["train"]["roc_auc"].as_f64().unwrap() > 0.9, "{run}");
        assert!(
            metrics["evaluation"]["roc_auc"].as_f64().unwrap() > 0.9,
            "{run}"
        );
        let (status, page) = s.get(&format!("/runs/{run_id}")).await;
        assert_eq!(status, StatusCode::OK);
        let page = page.as_str().unwrap();
        assert!(
            page.contains("Permutation importance on train"),
            "{detector}"
        );
        assert!(
            page.contains("Permutation importance on test"),
            "{detector}"
        );
        if detector == "mlp_classifier" {
            assert!(page.contains("Accuracy per epoch"), "no accuracy chart");
        }
        let (status, scored) = s
            .post_json(
                &format!("/api/v1/runs/{run_id}/score"),
                json!({"rows": [{"bytes": 5000, "duration": 60, "proto": "udp"}]}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{scored}");
    }
    // The dataset's leaderboard: its runs with test and train metrics, learners marked.
    let (status, page) = s.get(&format!("/runs?dataset={id}")).await;
    assert_eq!(status, StatusCode::OK);
    let page = page.as_str().unwrap();
    assert!(page.contains("train ROC AUC"), "{page}");
    assert_eq!(page.matches(">mlp_classifier</a>").count(), 1, "{page}");
    assert!(page.contains("<td>yes</td>"), "{page}");
}

#[tokio::test]
async fn a_selection_is_a_run_with_a_leaderboard() {
    let s = server();
    let (_, dataset) = s.upload("traffic.csv", table(600).as_bytes()).await;
    let id = dataset["id"].as_str().unwrap();
    let (status, body) = s
        .post_json(
            "/api/v1/selections",
            json!({"dataset": id, "detector": "ae"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(
        error_of(&body).contains("chooses the detector itself"),
        "{body}"
    );
    let (status, body) = s
        .post_json(
            "/api/v1/selections",
            json!({"dataset": id, "budget_seconds": 0}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");

    let (status, run) = s
        .post_json(
            "/api/v1/selections",
            json!({"dataset": id, "label": "label", "budget_seconds": 60}),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{run}");
    assert_eq!(run["detector"], "select");
    let run_id = run["id"].as_str().unwrap();
    let run = s.finished(run_id).await;
    assert_eq!(run["status"], "succeeded", "{run}");
    assert!(
        run["metrics"]["evaluation"]["roc_auc"].as_f64().unwrap() > 0.9,
        "{run}"
    );
    let (status, board) = s.get(&format!("/api/v1/runs/{run_id}/leaderboard")).await;
    assert_eq!(status, StatusCode::OK, "{board}");
    assert_eq!(board["finished"], true);
    assert_eq!(board["strategy"], "labelled rows");
    let attempts = board["attempts"].as_array().unwrap();
    assert!(attempts.iter().any(|a| a["chosen"] == true), "{board}");
    let (status, scored) = s
        .post_json(
            &format!("/api/v1/runs/{run_id}/score"),
            json!({"rows": [{"bytes": 5000, "duration": 60, "proto": "udp"}]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{scored}");
    let (status, page) = s.get(&format!("/runs/{run_id}")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.as_str().unwrap().contains(r#"id="leaderboard""#));
}

#[tokio::test]
async fn a_full_queue_refuses_runs_and_a_large_score_request_is_refused() {
    let s = server_configured(|c| {
        c.max_queued_runs = 1;
        c.max_score_rows = 50;
    });
    let (_, dataset) = s.upload("traffic.csv", table(400).as_bytes()).await;
    let long = json!({
        "dataset": dataset["id"], "detector": "ae", "label": "label",
        "params": {"training": {"epochs": 1000000, "patience": 0}}
    });
    let (status, first) = s.post_json("/api/v1/runs", long.clone()).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{first}");
    let first = first["id"].as_str().unwrap().to_string();
    // Once the one worker has it, one more may wait and the next is refused.
    let started = Instant::now();
    while s.get(&format!("/api/v1/runs/{first}")).await.1["status"] != "running" {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the first run never started"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (status, second) = s.post_json("/api/v1/runs", long.clone()).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{second}");
    let refused = s
        .app
        .clone()
        .oneshot(
            s.request("POST", "/api/v1/runs")
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(long.to_string()))
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(refused.headers()[header::RETRY_AFTER], "30");
    assert!(text_of(refused).await.contains("--max-queued-runs"));
    for id in [first.as_str(), second["id"].as_str().unwrap()] {
        s.post_json(&format!("/api/v1/runs/{id}/cancel"), json!({}))
            .await;
        s.finished(id).await;
    }

    // Score requests: at most 50 rows, as JSON or CSV.
    let (status, run) = s
        .post_json(
            "/api/v1/runs",
            json!({"dataset": dataset["id"], "detector": "iforest", "label": "label"}),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{run}");
    let id = run["id"].as_str().unwrap();
    assert_eq!(s.finished(id).await["status"], "succeeded");
    let row = json!({"bytes": 5000, "duration": 60, "proto": "udp"});
    let score = format!("/api/v1/runs/{id}/score");
    let (status, _) = s
        .post_json(&score, json!({"rows": vec![row.clone(); 50]}))
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = s.post_json(&score, json!({"rows": vec![row; 51]})).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(error_of(&body).contains("at most 50") && error_of(&body).contains("--max-score-rows"));
    let csv = format!("bytes,duration,proto\n{}", "1,1,tcp\n".repeat(51));
    let (status, body) = s
        .call(
            s.request("POST", &score)
                .header(header::CONTENT_TYPE, "text/csv")
                .body(Body::from(csv))
                .unwrap(),
        )
        .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
}

#[tokio::test]
async fn models_past_the_cache_are_loaded_again_and_score_the_same() {
    let s = server_configured(|c| c.cached_models = std::num::NonZeroUsize::new(1).unwrap());
    let (_, dataset) = s.upload("traffic.csv", table(300).as_bytes()).await;
    let mut runs = Vec::new();
    for detector in ["iforest", "hbos"] {
        let (_, run) = s
            .post_json(
                "/api/v1/runs",
                json!({"dataset": dataset["id"], "detector": detector, "label": "label"}),
            )
            .await;
        let id = run["id"].as_str().unwrap().to_string();
        assert_eq!(s.finished(&id).await["status"], "succeeded");
        runs.push(id);
    }
    let rows = json!({"rows": [{"bytes": 5000, "duration": 60, "proto": "udp"}]});
    let mut first = Vec::new();
    // With room for one model, each request after the first drops the other one.
    for round in 0..2 {
        for (i, id) in runs.iter().enumerate() {
            let (status, body) = s
                .post_json(&format!("/api/v1/runs/{id}/score"), rows.clone())
                .await;
            assert_eq!(status, StatusCode::OK, "{body}");
            match round {
                0 => first.push(body),
                _ => assert_eq!(body, first[i], "run {id} scored differently once reloaded"),
            }
        }
    }
    assert_ne!(first[0], first[1]);
}

#[tokio::test]
async fn a_running_training_can_be_cancelled() {
    let s = server();
    let (_, dataset) = s.upload("traffic.csv", table(400).as_bytes()).await;
    let (status, run) = s
        .post_json(
            "/api/v1/runs",
            json!({
                "dataset": dataset["id"], "detector": "ae", "label": "label",
                "params": {"training": {"epochs": 1000000, "patience": 0}}
            }),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{run}");
    let id = run["id"].as_str().unwrap().to_string();
    // Listen to the run's events while it trains; the stream ends with the run.
    let listen = s
        .request("GET", &format!("/api/v1/runs/{id}/events"))
        .body(Body::empty())
        .unwrap();
    let events = tokio::spawn(s.app.clone().oneshot(listen));
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let (status, _) = s
        .post_json(&format!("/api/v1/runs/{id}/cancel"), json!({}))
        .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let stream = events.await.unwrap().unwrap();
    let text = text_of(stream).await;
    let events: Vec<Value> = text
        .lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .map(|d| serde_json::from_str(d).unwrap())
        .collect();
    assert!(
        events
            .iter()
            .any(|e| e["epoch"].as_u64().is_some() && e["loss"].as_f64().is_some()),
        "live losses per epoch: {text}"
    );
    assert!(text.contains("\"cancelled\""), "{text}");
    let run = s.finished(&id).await;
    assert_eq!(run["status"], "cancelled", "{run}");
    assert_eq!(run["has_model"], false);
    let (status, body) = s
        .post_json(
            &format!("/api/v1/runs/{id}/score"),
            json!({"rows": [{"bytes": 1, "duration": 1, "proto": "tcp"}]}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(error_of(&body).contains("no model"));
}

/// A `redis-server` on a loopback port of its own, killed when dropped; `None` (the test
/// skips) when it is not installed, unless `DEVIANT_REQUIRE_BROKERS` is set.
struct Redis {
    child: std::process::Child,
    port: u16,
}

impl Redis {
    fn start() -> Option<Self> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = std::process::Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
            ])
            .stdout(std::process::Stdio::null())
            .spawn();
        let Ok(child) = child else {
            assert!(
                std::env::var_os("DEVIANT_REQUIRE_BROKERS").is_none(),
                "redis-server is not installed"
            );
            eprintln!(
                "skipped: redis-server is not installed (Debian: apt-get install redis-server)"
            );
            return None;
        };
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "redis did not listen"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Some(Self { child, port })
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_streams_from_redis_with_live_events_and_a_page() {
    use redis::Commands;
    let Some(redis_server) = Redis::start() else {
        return;
    };
    let s = server();
    let (_, dataset) = s.upload("traffic.csv", table(400).as_bytes()).await;
    let (_, run) = s
        .post_json(
            "/api/v1/runs",
            json!({"dataset": dataset["id"], "detector": "pca", "label": "label"}),
        )
        .await;
    let run_id = run["id"].as_str().unwrap().to_string();
    assert_eq!(s.finished(&run_id).await["status"], "succeeded");
    let address = format!("127.0.0.1:{}", redis_server.port);

    // Only brokers: a server stream never reads the server's own files.
    for (request, status, expected) in [
        (
            json!({"run": run_id, "source": "flows.csv"}),
            422,
            "must be a broker",
        ),
        (
            json!({"run": "0123456789abcdef", "source": format!("redis://{address}/flows")}),
            404,
            "no run",
        ),
        (
            json!({"run": run_id, "source": "redis://127.0.0.1:1/flows"}),
            422,
            "broker running",
        ),
    ] {
        let (code, body) = s.post_json("/api/v1/streams", request).await;
        assert_eq!(code.as_u16(), status, "{body}");
        assert!(error_of(&body).contains(expected), "{body}");
    }
    let (status, stream) = s
        .post_json(
            "/api/v1/streams",
            json!({
                "run": run_id,
                "source": format!("redis://{address}/flows"),
                "sink": format!("redis://{address}/scores")
            }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{stream}");
    let stream_id = stream["id"].as_str().unwrap().to_string();
    assert_eq!(stream["state"], "running");

    // The event feed: the stream's status first, then a batch once rows arrive.
    let response = s
        .app
        .clone()
        .oneshot(
            s.request("GET", &format!("/api/v1/streams/{stream_id}/events"))
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let mut body = response.into_body();
    let client = redis::Client::open(format!("redis://{address}/")).unwrap();
    let mut connection = client.get_connection().unwrap();
    for i in 0..10 {
        let row = json!({"bytes": 100 + i, "duration": 2, "proto": "tcp"}).to_string();
        let _: String = connection.xadd("flows", "*", &[("json", row)]).unwrap();
    }
    let far = json!({"bytes": 9000, "duration": 80, "proto": "udp"}).to_string();
    let _: String = connection.xadd("flows", "*", &[("json", far)]).unwrap();
    let mut seen = String::new();
    let started = Instant::now();
    while !(seen.contains("event: status") && seen.contains("event: batch")) {
        assert!(started.elapsed() < Duration::from_secs(30), "{seen}");
        let frame = tokio::time::timeout(Duration::from_secs(30), body.frame())
            .await
            .expect("an event in time")
            .unwrap()
            .unwrap();
        if let Ok(data) = frame.into_data() {
            seen.push_str(&String::from_utf8_lossy(&data));
        }
    }
    assert!(seen.contains("\"flagged_rows\""), "{seen}");
    loop {
        let (_, view) = s.get(&format!("/api/v1/streams/{stream_id}")).await;
        if view["rows"] == 11 {
            // The view lists the rows its count says were flagged, for a page opened late.
            let flagged = view["flagged"].as_u64().unwrap();
            assert!(flagged >= 1, "{view}");
            let listed = view["recent_flagged"].as_array().unwrap();
            assert_eq!(listed.len() as u64, flagged, "{view}");
            assert!(listed[0].as_str().unwrap().contains("\"score\""), "{view}");
            assert_eq!(
                view["recent_scores"].as_array().unwrap().len(),
                11,
                "{view}"
            );
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(30), "{view}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let written: usize = connection.xlen("scores").unwrap();
    assert_eq!(written, 11);

    let (status, page) = s.get(&format!("/streams/{stream_id}")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.as_str().unwrap().contains(r#"data-init="stream""#));
    let (status, page) = s.get("/streams").await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.as_str().unwrap().contains(&stream_id));

    let (status, _) = s
        .post_json(&format!("/api/v1/streams/{stream_id}/stop"), json!({}))
        .await;
    assert_eq!(status, StatusCode::OK);
    loop {
        let (_, view) = s.get(&format!("/api/v1/streams/{stream_id}")).await;
        if view["state"] == "stopped" {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(30), "{view}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
