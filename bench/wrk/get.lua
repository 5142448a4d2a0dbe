-- A plain keep-alive GET of the URL on wrk's command line; used by every
-- scenario that needs nothing else (hello, json, template, sqlite-read,
-- mariadb-read, static-file, cpu-mix, idle-10k, https-hello).

local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(here .. "report.lua")
