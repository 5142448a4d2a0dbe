-- A keep-alive GET that accepts br (template-br): the server compresses.

wrk.headers["Accept-Encoding"] = "br"
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(here .. "report.lua")
