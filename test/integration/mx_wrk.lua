-- wrk script for the program matrix (case_matrix.sh):
--   wrk ... -s mx_wrk.lua URL -- PER_THREAD BODY_LEN
-- Each thread stops after PER_THREAD responses; every response must be a 200
-- with a body of BODY_LEN bytes. done() prints one summary line the case
-- parses: "mx: responses N bad N errors connect N read N write N status N timeout N".
local threads = {}

function setup(thread)
	table.insert(threads, thread)
end

function init(args)
	n = 0
	bad = 0
	limit = tonumber(args[1]) or 5000
	want = tonumber(args[2])
end

function response(status, headers, body)
	n = n + 1
	if status ~= 200 or (want and #body ~= want) then
		bad = bad + 1
	end
	if n >= limit then
		wrk.thread:stop()
	end
end

function done(summary, latency, requests)
	local total, nbad = 0, 0
	for _, t in ipairs(threads) do
		total = total + t:get("n")
		nbad = nbad + t:get("bad")
	end
	local e = summary.errors
	io.write(string.format("mx: responses %d bad %d errors connect %d read %d write %d status %d timeout %d\n",
		total, nbad, e.connect, e.read, e.write, e.status, e.timeout))
end
