-- https-new-conn: a GET with "Connection: close", so every request opens a
-- new connection (over HTTPS: a new TLS handshake) and the server closes it
-- after the response; wrk reconnects at once. Requests/s is connections/s.

local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(here .. "report.lua")

wrk.headers["Connection"] = "close"
