-- NDR/PDR search for las with pktgen-dpdk's pcap replay (perf/pktgen/README.md).
--
-- The same search as las::perf::search (src/perf.rs) and perf/ndr.sh: the
-- first trial at the maximum rate, then bisection of two intervals at once
-- (NDR: no loss; PDR: loss <= PDR_PCT), NDR first, each trial moving both;
-- the latest trial wins over an older contradicting one. Between trials it
-- reads las's counters with `las show counters --json` (through jq), so
-- each trial also reports how many packets las's workers received and
-- dropped, and its busy cycles per packet.
--
-- Loss is counted on the generator: frames sent on TX_PORT minus frames
-- received on RX_PORT (the same port when las's port is looped back,
-- perf/pktgen/las-1port.toml). Each inner broadcast frame comes back once
-- per other session: use pcaps without broadcast (make-pcaps.sh's default
-- for the NDR set) or set EXPECT_FACTOR.
--
-- Settings come from environment variables (pktgen runs this with -f):
--   LAS_TX_PORT, LAS_RX_PORT   pktgen ports ["0", same as TX]
--   LAS_DURATION_MS            ms per trial [10000]
--   LAS_PDR_PCT                PDR loss in percent [0.5]
--   LAS_PRECISION_PCT          stop when the interval is this narrow [0.5]
--   LAS_MIN_RATE, LAS_MAX_RATE rate in percent of the line rate [0.1, 100]
--   LAS_MAX_TRIALS             [30]
--   LAS_SOCKET                 las's control socket ["/run/las/las.sock"];
--                              "" = do not read las's counters
--   LAS_BIN                    the las binary ["las"]
--   LAS_EXPECT_FACTOR          frames expected back per frame sent [1]
--   LAS_RESULT                 file the result lines are appended to
--                              ["las-ndr-results.txt"]

package.path = package.path .. ";?.lua;test/?.lua;app/?.lua;../?.lua"

local function env(name, default)
	local v = os.getenv(name)
	if v == nil or v == "" then
		return default
	end
	return v
end

local TX = env("LAS_TX_PORT", "0")
local RX = env("LAS_RX_PORT", TX)
local DURATION = tonumber(env("LAS_DURATION_MS", "10000"))
local PDR = tonumber(env("LAS_PDR_PCT", "0.5")) / 100
local PRECISION = tonumber(env("LAS_PRECISION_PCT", "0.5")) / 100
local MIN_RATE = tonumber(env("LAS_MIN_RATE", "0.1"))
local MAX_RATE = tonumber(env("LAS_MAX_RATE", "100"))
local MAX_TRIALS = tonumber(env("LAS_MAX_TRIALS", "30"))
local SOCKET = env("LAS_SOCKET", "/run/las/las.sock")
local LAS = env("LAS_BIN", "las")
local FACTOR = tonumber(env("LAS_EXPECT_FACTOR", "1"))
local RESULT = env("LAS_RESULT", "las-ndr-results.txt")
local SETTLE_MS = 1000

-- las's counters: workers' rx_packets, busy_cycles, and all drops.
local function las_counters()
	if SOCKET == "" then
		return nil
	end
	local cmd = LAS .. " show counters --json --socket " .. SOCKET
		.. " | jq -r '[([.workers[].rx_packets] | add), ([.workers[].busy_cycles] | add),"
		.. " ([.drops[]] | add)] | @tsv'"
	local p = io.popen(cmd)
	if p == nil then
		return nil
	end
	local line = p:read("*l")
	p:close()
	if line == nil then
		return nil
	end
	local rx, busy, drops = line:match("^(%d+)%s+(%d+)%s+(%d+)")
	if rx == nil then
		return nil
	end
	return { rx = tonumber(rx), busy = tonumber(busy), drops = tonumber(drops) }
end

local function port_stats(port)
	local s = pktgen.portStats(port, "port")[tonumber(port)]
	return s.opackets, s.ipackets
end

local out = io.open(RESULT, "a")
local function say(s)
	print(s)
	if out then
		out:write(s .. "\n")
		out:flush()
	end
end

-- One trial at `rate` percent: returns the loss ratio and a description.
local function trial(rate)
	pktgen.stop(TX)
	pktgen.delay(SETTLE_MS)
	pktgen.clr()
	local tx0 = port_stats(TX)
	local _, rx0 = port_stats(RX)
	local c0 = las_counters()
	pktgen.set(TX, "rate", rate)
	pktgen.start(TX)
	pktgen.delay(DURATION)
	pktgen.stop(TX)
	pktgen.delay(SETTLE_MS)
	local tx1 = port_stats(TX)
	local _, rx1 = port_stats(RX)
	local c1 = las_counters()
	local sent = tx1 - tx0
	local expected = sent * FACTOR
	local received = rx1 - rx0
	local loss = 0
	if expected > 0 and received < expected then
		loss = (expected - received) / expected
	end
	local d = string.format(
		"trial %.3f%%: sent %d (%.3f Mpps), received %d of %d, loss %.4f%%",
		rate, sent, sent / (DURATION / 1000) / 1e6, received, expected, loss * 100)
	if c0 and c1 then
		local lrx = c1.rx - c0.rx
		local cyc = 0
		if lrx > 0 then
			cyc = (c1.busy - c0.busy) / lrx
		end
		d = d .. string.format("; las rx %d, drops %d, busy %.0f cyc/pkt", lrx, c1.drops - c0.drops, cyc)
	end
	return loss, d, sent / (DURATION / 1000)
end

-- One search interval (see src/perf.rs: Interval).
local function interval()
	return { lo = MIN_RATE, lo_ok = false, hi = MAX_RATE, hi_ok = false }
end

local function update(i, rate, pass)
	if pass then
		if not i.lo_ok or rate > i.lo then
			i.lo, i.lo_ok = rate, true
		end
		if i.hi <= rate then
			i.hi, i.hi_ok = MAX_RATE, false
		end
	else
		if not i.hi_ok or rate < i.hi then
			i.hi, i.hi_ok = rate, true
		end
		if i.lo >= rate then
			i.lo, i.lo_ok = math.min(MIN_RATE, rate), false
		end
	end
end

local function next_rate(i)
	if i.lo_ok and i.lo >= MAX_RATE then
		return nil
	end
	if i.hi_ok and i.hi <= MIN_RATE then
		return nil
	end
	if not i.hi_ok then
		return i.hi
	end
	if i.hi - i.lo > PRECISION * i.hi then
		return (i.lo + i.hi) / 2
	end
	if not i.lo_ok then
		return i.lo
	end
	return nil
end

local function main()
	local ndr, pdr = interval(), interval()
	local pps_at = {}
	local desc_at = {}
	say(string.format("== las NDR/PDR with pktgen, %s: tx port %s, rx port %s, %d ms per trial",
		os.date("!%Y-%m-%dT%H:%M:%SZ"), TX, RX, DURATION))
	for _ = 1, MAX_TRIALS do
		local rate = next_rate(ndr) or next_rate(pdr)
		if rate == nil then
			break
		end
		local loss, d, pps = trial(rate)
		pps_at[rate], desc_at[rate] = pps, d
		say(d)
		update(ndr, rate, loss == 0)
		update(pdr, rate, loss <= PDR)
	end
	for _, b in ipairs({ { "NDR", ndr }, { "PDR", pdr } }) do
		local name, i = b[1], b[2]
		if i.lo_ok then
			say(string.format("%s %.3f%% of line rate = %.3f Mpps%s (%s)", name, i.lo, pps_at[i.lo] / 1e6,
				i.hi_ok and "" or ", the maximum tried", desc_at[i.lo]))
		else
			say(string.format("%s below %.3f%% of line rate", name, MIN_RATE))
		end
	end
	if out then
		out:close()
	end
end

main()
