-- 16 GETs of the URL on wrk's command line written in one go on each
-- keep-alive connection, the next 16 once all 16 answers are read (wrk
-- counts every answer as a request). The hello-pipelined scenario.

local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(here .. "report.lua")

local depth = 16
local batch

function init(args)
   local one = wrk.format("GET", wrk.path)
   batch = string.rep(one, depth)
end

function request()
   return batch
end
