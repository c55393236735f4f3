//! The OpenAPI 3.1 description of `/api/v1`, served at `/api/v1/openapi.json`. Written out
//! rather than derived: one function beside the routes, and a test checks that every route
//! of the router is described here and nothing else is.

use serde_json::{Value, json};

fn error_response(description: &str) -> Value {
    json!({
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    })
}

fn json_response(description: &str, schema: Value) -> Value {
    json!({"description": description, "content": {"application/json": {"schema": schema}}})
}

fn id_parameter(what: &str) -> Value {
    json!({
        "name": "id", "in": "path", "required": true,
        "description": format!("The {what}'s id (16 hex digits)."),
        "schema": {"type": "string", "pattern": "^[0-9a-f]{16}$"}
    })
}

fn reference(name: &str) -> Value {
    json!({"$ref": format!("#/components/schemas/{name}")})
}

/// The specification.
pub fn spec() -> Value {
    let mut spec = paths();
    // Every call that needs the token may meet the wrong-token throttle.
    let throttled = with_retry_after(error_response(
        "This client sent too many wrong API tokens lately (10 a minute); refused until \
         `Retry-After` seconds have passed.",
    ));
    // Every call with a body may send one that is not JSON (or multipart) as documented,
    // or one past the upload limit.
    let with_body = [
        (
            "400",
            error_response("The body or the query does not parse."),
        ),
        (
            "413",
            error_response(
                "Larger than the server's upload limit (`deviant serve --max-upload-mb`).",
            ),
        ),
        (
            "415",
            error_response("The body's Content-Type is not the one documented."),
        ),
    ];
    for path in spec["paths"].as_object_mut().expect("paths").values_mut() {
        for operation in path.as_object_mut().expect("a path").values_mut() {
            let open = operation["security"].as_array().is_some_and(Vec::is_empty);
            let has_body = operation.get("requestBody").is_some();
            let Some(responses) = operation
                .get_mut("responses")
                .and_then(Value::as_object_mut)
            else {
                continue;
            };
            if !open {
                responses.entry("429").or_insert_with(|| throttled.clone());
            }
            if has_body {
                for (status, response) in &with_body {
                    responses.entry(*status).or_insert_with(|| response.clone());
                }
            }
        }
    }
    spec
}

fn with_retry_after(mut response: Value) -> Value {
    response["headers"] = json!({"Retry-After": {
        "description": "Seconds to wait before trying again.",
        "schema": {"type": "integer", "minimum": 1}
    }});
    response
}

fn paths() -> Value {
    let unauthorized = error_response("Missing or wrong API token.");
    let not_found = error_response("No such id.");
    let invalid = error_response("The request is well-formed but its content is not usable.");
    let queue_full = with_retry_after(error_response(
        "The run queue is full (`deviant serve --max-queued-runs`, default 64), or this client \
         sent too many wrong API tokens lately; try again after `Retry-After` seconds.",
    ));
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "deviant",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Train anomaly detectors on uploaded tables, follow their runs and score new rows."
        },
        "servers": [{"url": "/"}],
        "security": [{"token": []}],
        "paths": {
            "/api/v1/health": {"get": {
                "summary": "Liveness", "security": [],
                "responses": {"200": json_response("The server runs.", json!({"type": "object"}))}
            }},
            "/api/v1/openapi.json": {"get": {
                "summary": "This document", "security": [],
                "responses": {"200": json_response("OpenAPI 3.1.", json!({"type": "object"}))}
            }},
            "/api/v1/detectors": {"get": {
                "summary": "The detector catalogue: each kind's summary, input layouts, cost class, whether it needs labels (a supervised learner), search space and defaults",
                "responses": {
                    "200": json_response("Every kind.", json!({"type": "array", "items": {"type": "object"}})),
                    "401": unauthorized
                }
            }},
            "/api/v1/datasets": {
                "get": {
                    "summary": "List datasets, newest first",
                    "responses": {
                        "200": json_response("Datasets.", json!({"type": "array", "items": reference("Dataset")})),
                        "401": unauthorized
                    }
                },
                "post": {
                    "summary": "Upload a table: CSV or TSV (optionally gzipped), JSON rows (.json array of objects, .ndjson) a workbook's first sheet (.xlsx, .xls, .ods) or Parquet",
                    "requestBody": {"required": true, "content": {"multipart/form-data": {"schema": {
                        "type": "object", "required": ["file"],
                        "properties": {
                            "file": {"type": "string", "contentMediaType": "application/octet-stream", "minLength": 1},
                            "name": {"type": "string", "description": "Shown name; default the file's name."}
                        }
                    }}}},
                    "responses": {
                        "201": json_response("Stored and read.", reference("Dataset")),
                        "400": error_response("No `file` part, or an empty file."),
                        "401": unauthorized,
                        "413": error_response("Larger than the server's upload limit."),
                        "415": error_response("Not a .csv, .tsv, .json, .ndjson, .xlsx, .xls, .ods or .parquet file."),
                        "422": error_response("The table does not read (e.g. a ragged row); the message names line and column.")
                    }
                }
            },
            "/api/v1/datasets/{id}": {
                "parameters": [id_parameter("dataset")],
                "get": {
                    "summary": "One dataset",
                    "responses": {"200": json_response("The dataset.", reference("Dataset")), "401": unauthorized, "404": not_found}
                },
                "delete": {
                    "summary": "Delete a dataset and its file (runs and models stay)",
                    "responses": {"204": {"description": "Deleted."}, "401": unauthorized, "404": not_found}
                }
            },
            "/api/v1/datasets/{id}/summary": {
                "parameters": [id_parameter("dataset")],
                "get": {
                    "summary": "Per-column count, missing, unique, most frequent values; mean, std, quartiles and a histogram of numeric columns",
                    "responses": {
                        "200": json_response("The summary.", json!({"type": "object", "properties": {
                            "rows": {"type": "integer"},
                            "columns": {"type": "array", "items": {"type": "object"}}
                        }})),
                        "401": unauthorized, "404": not_found
                    }
                }
            },
            "/api/v1/runs": {
                "get": {
                    "summary": "List runs, newest first",
                    "responses": {
                        "200": json_response("Runs.", json!({"type": "array", "items": reference("Run")})),
                        "401": unauthorized
                    }
                },
                "post": {
                    "summary": "Queue a training run",
                    "requestBody": {"required": true, "content": {"application/json": {"schema": reference("RunRequest")}}},
                    "responses": {
                        "202": json_response("Queued.", reference("Run")),
                        "400": error_response("Not JSON."),
                        "401": unauthorized,
                        "404": not_found,
                        "422": invalid,
                        "429": queue_full
                    }
                }
            },
            "/api/v1/runs/{id}": {
                "parameters": [id_parameter("run")],
                "get": {
                    "summary": "One run with its status, metrics and history",
                    "responses": {"200": json_response("The run.", reference("Run")), "401": unauthorized, "404": not_found}
                }
            },
            "/api/v1/runs/{id}/model": {
                "parameters": [id_parameter("run")],
                "get": {
                    "summary": "The run's model directory as a tar archive (unpack it and use `deviant score`)",
                    "responses": {
                        "200": {"description": "The archive.", "content": {"application/x-tar": {"schema": {"type": "string", "contentMediaType": "application/x-tar"}}}},
                        "401": unauthorized, "404": not_found,
                        "409": error_response("The run has no model (yet).")
                    }
                }
            },
            "/api/v1/selections": {
                "post": {
                    "summary": "Queue a run whose detector model selection chooses (within `budget_seconds`, on the labelled validation rows when there are some); it is a run like any other",
                    "requestBody": {"required": true, "content": {"application/json": {"schema": {
                        "description": "A RunRequest without `detector` (or with `select`).",
                        "type": "object", "required": ["dataset"]
                    }}}},
                    "responses": {
                        "202": json_response("Queued.", reference("Run")),
                        "400": error_response("Not JSON."),
                        "401": unauthorized,
                        "404": not_found,
                        "422": invalid,
                        "429": queue_full
                    }
                }
            },
            "/api/v1/streams": {
                "get": {
                    "summary": "The streams started since the server started, newest first",
                    "responses": {
                        "200": json_response("The streams.", json!({"type": "array", "items": reference("Stream")})),
                        "401": unauthorized
                    }
                },
                "post": {
                    "summary": "Attach a run's model to a broker: rows from `source` (redis://HOST:PORT/STREAM or nats://HOST:PORT/SUBJECT) are scored as they arrive, and each batch is acknowledged once its scores are written to `sink` (a broker location; without it scores reach only the event feed)",
                    "requestBody": {"required": true, "content": {"application/json": {"schema": {
                        "type": "object", "required": ["run", "source"], "additionalProperties": false,
                        "properties": {
                            "run": {"type": "string", "pattern": "^[0-9a-f]{16}$"},
                            "source": {"type": "string", "pattern": "^(redis|nats)://"},
                            "sink": {"type": "string"}, "group": {"type": "string"},
                            "learn": {"type": "boolean"}, "drift_window": {"type": "integer", "minimum": 2}
                        }
                    }}}},
                    "responses": {
                        "201": json_response("Started.", reference("Stream")),
                        "400": error_response("Not JSON."),
                        "401": unauthorized, "404": not_found,
                        "409": error_response("The run has no model."),
                        "422": error_response("Not a broker location, a broker that does not answer, or a model whose threshold is per batch.")
                    }
                }
            },
            "/api/v1/streams/{id}": {
                "parameters": [id_parameter("stream")],
                "get": {
                    "summary": "A stream's counts and state",
                    "responses": {"200": json_response("The stream.", reference("Stream")), "401": unauthorized, "404": not_found}
                }
            },
            "/api/v1/streams/{id}/stop": {
                "parameters": [id_parameter("stream")],
                "post": {
                    "summary": "Stop a stream once the batch in hand is written and acknowledged",
                    "responses": {"200": json_response("Stopping.", reference("Stream")), "401": unauthorized, "404": not_found}
                }
            },
            "/api/v1/streams/{id}/events": {
                "parameters": [id_parameter("stream")],
                "get": {
                    "summary": "Server-Sent Events: `status` (the stream) first, then `batch` (scores, threshold, flagged rows, refused count, lag in ms), `drift`, `refit` and `notice` events",
                    "responses": {
                        "200": {"description": "An event stream.", "content": {"text/event-stream": {"schema": {"type": "object"}}}},
                        "401": unauthorized, "404": not_found
                    }
                }
            },
            "/api/v1/runs/{id}/leaderboard": {
                "parameters": [id_parameter("run")],
                "get": {
                    "summary": "A selection run's leaderboard: every attempt so far, `finished` once it ended",
                    "responses": {
                        "200": json_response("The leaderboard.", json!({"type": "object", "properties": {
                            "finished": {"type": "boolean"},
                            "strategy": {"type": "string"},
                            "reasons": {"type": "array", "items": {"type": "string"}},
                            "attempts": {"type": "array", "items": {"type": "object"}}
                        }})),
                        "401": unauthorized, "404": not_found
                    }
                }
            },
            "/api/v1/runs/{id}/cancel": {
                "parameters": [id_parameter("run")],
                "post": {
                    "summary": "Stop a queued or running run",
                    "responses": {
                        "202": json_response("Cancelling.", json!({"type": "object"})),
                        "401": unauthorized, "404": not_found,
                        "409": error_response("The run has already ended.")
                    }
                }
            },
            "/api/v1/runs/{id}/events": {
                "parameters": [id_parameter("run")],
                "get": {
                    "summary": "Progress as Server-Sent Events (`progress` events with a RunEvent as data) until the run ends",
                    "responses": {
                        "200": {"description": "An event stream.", "content": {"text/event-stream": {"schema": reference("RunEvent")}}},
                        "401": unauthorized, "404": not_found
                    }
                }
            },
            "/api/v1/runs/{id}/score": {
                "parameters": [id_parameter("run"), {
                    "name": "top_features", "in": "query", "required": false,
                    "description": "Features listed per row (default 3; overrides the JSON field).",
                    "schema": {"type": "integer", "minimum": 0}
                }, {
                    "name": "batch", "in": "query", "required": false,
                    "description": "Treat the request's rows as one batch, so a model with a per-batch threshold (`top:P`) flags the top P % of them. Without it rows are flagged as they would be alone, and such a model answers 422.",
                    "schema": {"type": "boolean", "default": false}
                }],
                "post": {
                    "summary": "Score rows with the run's model",
                    "requestBody": {"required": true, "content": {
                        "application/json": {"schema": {
                            "type": "object", "required": ["rows"],
                            "properties": {
                                "rows": {"type": "array", "items": {"type": "object"}, "description": "One object per row, keyed by column name."},
                                "top_features": {"type": "integer", "minimum": 0, "default": 3}
                            }
                        }},
                        "text/csv": {"schema": {"type": "string", "description": "A header row with the model's columns, then one row per line."}}
                    }},
                    "responses": {
                        "200": json_response("Scores, flags and contributing features.", json!({
                            "type": "object",
                            "properties": {
                                "threshold": {"type": "number"},
                                "rows": {"type": "array", "items": {"type": "object", "properties": {
                                    "score": {"type": "number"},
                                    "anomaly": {"type": "boolean"},
                                    "top_features": {"type": "array", "items": {"type": "object", "properties": {
                                        "feature": {"type": "string"}, "contribution": {"type": "number"}
                                    }}}
                                }}}
                            }
                        })),
                        "400": error_response("Neither a JSON score request nor CSV."),
                        "401": unauthorized, "404": not_found,
                        "409": error_response("The run has no model (yet)."),
                        "413": error_response("More rows than the server scores in one request (`deviant serve --max-score-rows`, default 100,000): send them in batches."),
                        "422": error_response("A row lacks a column, has an unknown one, a cell does not parse or is not finite once scaled (the message names the row and column), or the model's threshold is per batch and `batch` is not set.")
                    }
                }
            }
        },
        "components": {
            "securitySchemes": {"token": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "Error": {"type": "object", "required": ["error"], "properties": {"error": {"type": "string"}}},
                "Stream": {"type": "object", "properties": {
                    "id": {"type": "string"}, "run": {"type": "string"}, "source": {"type": "string"},
                    "sink": {"type": ["string", "null"]}, "started_unix": {"type": "integer"},
                    "state": {"type": "string", "enum": ["running", "stopped", "failed"]},
                    "error": {"type": ["string", "null"]}, "rows": {"type": "integer"},
                    "flagged": {"type": "integer"}, "refused": {"type": "integer"},
                    "rows_per_second": {"type": "number"}, "lag_ms": {"type": "number"},
                    "threshold": {"type": ["number", "null"]}, "drift_events": {"type": "integer"},
                    "refits": {"type": "integer"},
                    "recent_scores": {"type": "array", "items": {"type": "number"},
                        "description": "The last 500 scores, oldest first"},
                    "recent_flagged": {"type": "array", "items": {"type": "string"},
                        "description": "The output lines of the last 50 flagged rows, oldest first"}
                }},
                "Dataset": {"type": "object", "properties": {
                    "id": {"type": "string"}, "name": {"type": "string"}, "file": {"type": "string"},
                    "bytes": {"type": "integer"}, "rows": {"type": "integer"},
                    "columns": {"type": "array", "items": {"type": "object", "properties": {
                        "name": {"type": "string"}, "kind": {"type": "string", "enum": ["numeric", "categorical"]}
                    }}},
                    "created_unix": {"type": "integer"}
                }},
                "RunRequest": {"type": "object", "required": ["dataset", "detector"], "properties": {
                    "dataset": {"type": "string", "pattern": "^[0-9a-f]{16}$"},
                    "detector": {"type": "string", "description": "A kind from /api/v1/detectors, or `select` to let model selection choose."},
                    "params": {"type": "object"},
                    "label": {"type": ["string", "null"]},
                    "normal": {"type": "array", "items": {"type": "string"}, "default": ["0"]},
                    "ignore": {"type": "array", "items": {"type": "string"}},
                    "validation_share": {"type": "number", "default": 0.2},
                    "test_share": {"type": "number", "default": 0.2},
                    "threshold": {"type": ["string", "null"], "examples": ["best-f1", "contamination:0.1", "top:5"]},
                    "scaling": {"type": "string", "enum": ["standard", "min_max", "none"]},
                    "keep_anomalies": {"type": "boolean"},
                    "seed": {"type": "integer", "default": 42},
                    "budget_seconds": {"type": "number", "default": 600, "description": "With `select`: the selection's wall-clock limit."}
                }},
                "Run": {"type": "object", "properties": {
                    "id": {"type": "string"}, "dataset_id": {"type": "string"}, "detector": {"type": "string"},
                    "request": reference("RunRequest"),
                    "status": {"type": "string", "enum": ["queued", "running", "succeeded", "failed", "cancelled"]},
                    "error": {"type": ["string", "null"]},
                    "created_unix": {"type": "integer"},
                    "started_unix": {"type": ["integer", "null"]},
                    "finished_unix": {"type": ["integer", "null"]},
                    "fit_seconds": {"type": ["number", "null"]},
                    "metrics": {"type": ["object", "null"]},
                    "history": {"type": ["array", "null"]},
                    "has_model": {"type": "boolean"}
                }},
                "RunEvent": {"type": "object", "properties": {
                    "status": {"type": "string"}, "phase": {"type": "string"},
                    "done": {"type": "integer"}, "total": {"type": "integer"}, "message": {"type": "string"},
                    "epoch": {"type": ["integer", "null"]}, "loss": {"type": ["number", "null"]}, "valid_loss": {"type": ["number", "null"]}
                }}
            }
        }
    })
}
