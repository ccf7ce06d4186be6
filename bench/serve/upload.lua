-- wrk script: every request POSTs the song in $GN_SONG as the raw body of /api/predict.
-- wrk itself counts non-2xx answers and socket errors; done() prints them again as one line
-- that serve_load.sh checks, with the latency percentiles.
local f = assert(io.open(os.getenv("GN_SONG"), "rb"))
local song = f:read("*a")
f:close()

wrk.method = "POST"
wrk.path = "/api/predict?name=load.wav"
wrk.body = song
wrk.headers["Content-Type"] = "audio/wav"

function done(summary, latency, requests)
  local e = summary.errors
  local failed = e.connect + e.read + e.write + e.timeout + e.status
  io.write(string.format(
    "serve-load: requests=%d failed=%d (connect %d, read %d, write %d, timeout %d, status %d) " ..
    "throughput=%.2f req/s p50=%.0f ms p90=%.0f ms p99=%.0f ms max=%.0f ms\n",
    summary.requests, failed, e.connect, e.read, e.write, e.timeout, e.status,
    summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1e3, latency:percentile(90) / 1e3, latency:percentile(99) / 1e3,
    latency.max / 1e3))
end
