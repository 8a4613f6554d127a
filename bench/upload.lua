-- wrk script of the benchmark suite's upload scenario: every request is a POST of 1 MiB.
-- wrk builds the request once and adds Content-Length itself (wrk.format).
wrk.method = "POST"
wrk.body = string.rep("x", 1024 * 1024)
wrk.headers["Content-Type"] = "application/octet-stream"
