-- wrk script: POST one request body to a run's /score endpoint.
-- DEVIANT_TOKEN holds the API token, DEVIANT_BODY a JSON file such as cloudera-row.json.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("DEVIANT_TOKEN")
local file = assert(io.open(os.getenv("DEVIANT_BODY")))
wrk.body = file:read("*a")
file:close()
