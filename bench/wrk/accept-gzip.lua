-- A keep-alive GET that accepts gzip (template-gzip): the server compresses.

wrk.headers["Accept-Encoding"] = "gzip"
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(here .. "report.lua")
