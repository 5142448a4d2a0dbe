-- A keep-alive GET that accepts zstd (template-zstd): the server compresses.

wrk.headers["Accept-Encoding"] = "zstd"
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(here .. "report.lua")
