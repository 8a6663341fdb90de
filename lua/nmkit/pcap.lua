-- nmkit.pcap: capture files through libpcap (rt/pcap.c).
--
--   local w = pcap.writer("rx.pcap", { nanos = true, max_frames = 10000 })
--   w:write(ring:buf(i), ring:len(i))        -- false once the cap is reached
--   w:close()
--
--   local r = pcap.reader("in.pcap")
--   for p, len, ts_ns in r:frames() do ... end
--
--   pcap.replay(ring, "in.pcap", { speed = 1.0, loop = 1 })
--
-- Timestamps are nanoseconds of CLOCK_REALTIME.  As Lua numbers they are
-- exact only up to 2^53 ns; today's dates are about 2^60, so r:next()'s
-- ts_ns is rounded to 256 ns: r:ts_u64() has the exact value (a uint64_t
-- cdata), and w:write() takes either.  Replay works on exact differences.
local ffi = require "ffi"
local err = require "nmkit.err"
local C = require("nmkit.cdefs").C

local M = {}

local LINKTYPE_ETHERNET = 1
local MAX_SNAPLEN = 262144      -- libpcap's largest for Ethernet

-- What a few errno values mean (no strerror() in the FFI declarations).
local ERRNO = { [5] = "input/output error", [9] = "bad file descriptor", [27] = "file too large",
                [28] = "no space left on device", [29] = "illegal seek", [122] = "disk quota exceeded" }

local function errno_text(e)
  return ERRNO[e] or ("errno " .. tostring(e))
end

local function whole(v, lo, hi)
  return type(v) == "number" and v == math.floor(v) and v >= lo and v <= hi
end

local function check_keys(o, known, what)
  if o == nil then return {} end
  if type(o) ~= "table" then err.raise("%s: expected an option table, got %s", what, type(o)) end
  for k in pairs(o) do
    if not known[k] then
      local names = {}
      for n in pairs(known) do names[#names + 1] = n end
      table.sort(names)
      err.raise("%s: unknown option '%s' (known: %s)", what, tostring(k), table.concat(names, ", "))
    end
  end
  return o
end

local function check_path(path, what)
  if type(path) ~= "string" or path == "" then
    err.raise("%s: expected a file name, got %s", what, tostring(path))
  end
end

-- ---- writer --------------------------------------------------------------------

local Writer = {}
Writer.__index = Writer

local WRITER_KEYS = { nanos = true, snaplen = true, max_frames = true }

-- A capture file for Ethernet frames.  nanos (default true): nanosecond
-- timestamps; snaplen (65535): bytes kept of each frame; max_frames (nil
-- or 0: no cap): write() returns false past it.
function M.writer(path, o)
  check_path(path, "pcap.writer")
  o = check_keys(o, WRITER_KEYS, "pcap.writer")
  local nanos = o.nanos
  if nanos == nil then nanos = true end
  if type(nanos) ~= "boolean" then err.raise("pcap.writer: nanos must be true or false") end
  local snaplen = o.snaplen or 65535
  if not whole(snaplen, 1, MAX_SNAPLEN) then
    err.raise("pcap.writer: bad snaplen '%s' (expected 1 .. %d bytes)", tostring(o.snaplen), MAX_SNAPLEN)
  end
  local max = o.max_frames or 0
  if not whole(max, 0, 2^53) then
    err.raise("pcap.writer: bad max_frames '%s' (expected a whole number)", tostring(o.max_frames))
  end
  local e = ffi.new("char[256]")
  local w = C.nmlua_pcap_writer_open(path, nanos and 1 or 0, snaplen, max, e)
  if w == nil then err.raise("pcap.writer: cannot open '%s': %s", path, ffi.string(e)) end
  -- A writer the script forgot to close is still flushed (at the latest
  -- when the state closes).
  ffi.gc(w, C.nmlua_pcap_writer_close)
  return setmetatable({ w = w, path = path }, Writer)
end

-- Write one frame (a pointer and its length, or a Lua string), stamped
-- ts_ns (a number or a uint64_t; nil or 0: now).  true, or false when the
-- cap is reached.
function Writer:write(ptr, len, ts_ns)
  local w = self.w
  if not w then err.raise("pcap '%s': write after close", self.path) end
  if len == nil then len = #ptr end
  local rc = C.nmlua_pcap_write(w, ptr, len, ts_ns or 0)
  if rc == 1 then return true end
  if rc == 0 then return false end
  err.raise("pcap '%s': write failed: %s", self.path, errno_text(-rc))
end

function Writer:written()
  return self.w and C.nmlua_pcap_written(self.w) or self.last_written or 0
end

-- Flush and close; raises when the file could not be written completely.
function Writer:close()
  local w = self.w
  if not w then return true end
  self.last_written = C.nmlua_pcap_written(w)
  self.w = nil
  ffi.gc(w, nil)
  local rc = C.nmlua_pcap_writer_close(w)
  if rc < 0 then err.raise("pcap '%s': close failed: %s", self.path, errno_text(-rc)) end
  return true
end

-- ---- reader --------------------------------------------------------------------

local Reader = {}
Reader.__index = Reader

local u8p = ffi.typeof("const uint8_t *[1]")
local u32x2 = ffi.typeof("uint32_t[2]")
local u64x1 = ffi.typeof("uint64_t[1]")

-- A capture of any format libpcap reads.
function M.reader(path)
  check_path(path, "pcap.reader")
  local e = ffi.new("char[256]")
  local r = C.nmlua_pcap_reader_open(path, e)
  if r == nil then err.raise("pcap.reader: cannot open '%s': %s", path, ffi.string(e)) end
  ffi.gc(r, C.nmlua_pcap_reader_close)
  return setmetatable({ r = r, path = path, err = e, pp = u8p(), plen = u32x2(), pts = u64x1() }, Reader)
end

local function reader_of(self)
  local r = self.r
  if not r then err.raise("pcap '%s': read after close", self.path) end
  return r
end

-- The next frame: a pointer to its bytes (valid until the next call), the
-- bytes captured, the timestamp in ns (a Lua number, see above) and the
-- length it had on the wire; nil at the end.
function Reader:next()
  local rc = C.nmlua_pcap_next(reader_of(self), self.pp, self.plen, self.plen + 1, self.pts, self.err)
  if rc == 1 then return self.pp[0], self.plen[0], tonumber(self.pts[0]), self.plen[1] end
  if rc == 0 then return nil end
  err.raise("pcap '%s': %s", self.path, ffi.string(self.err))
end

-- The exact timestamp of the frame next() gave last, as a uint64_t.
function Reader:ts_u64()
  return self.pts[0]
end

-- for p, len, ts_ns, wire_len in r:frames() do ... end
function Reader:frames()
  return function() return self:next() end
end

function Reader:rewind()
  if C.nmlua_pcap_rewind(reader_of(self), self.err) < 0 then
    err.raise("pcap '%s': cannot rewind: %s", self.path, ffi.string(self.err))
  end
end

-- The capture's link type as libpcap's DLT_ value (1: Ethernet).
function Reader:linktype()
  return C.nmlua_pcap_linktype(reader_of(self))
end

function Reader:close()
  local r = self.r
  if not r then return end
  self.r = nil
  ffi.gc(r, nil)
  C.nmlua_pcap_reader_close(r)
end

-- ---- replay --------------------------------------------------------------------

local REPLAY_KEYS = { speed = true, loop = true, max_frames = true, on_frame = true }

local function now_ns(t0)
  return tonumber(C.nmlua_now_ns() - t0)
end

-- Send the frames of capture `path` into TX ring `ring`, with the gaps of
-- the capture divided by `speed` (0 or "max": as fast as the ring takes
-- them), `loop` times over (0: until the run stops), at most max_frames.
-- on_frame(buf, len, ts_ns), if given, sees each frame in its slot before
-- it is sent and may change its bytes; it may return a new length, or
-- false to leave the frame out.  Frames longer than the ring's buffers are
-- left out too.  Returns { frames, bytes, seconds, skipped }.
--
-- Frames that are due go out together in one send; a frame due later is
-- waited for (sleeping while it is far, spinning for the last 200 us).  A
-- replay that fell behind (a full ring) sends what is due at once.
function M.replay(ring, path, o)
  o = check_keys(o, REPLAY_KEYS, "pcap.replay")
  local speed = o.speed
  if speed == nil then speed = 1 elseif speed == "max" then speed = 0 end
  if type(speed) ~= "number" or speed ~= speed or speed < 0 or speed == math.huge then
    err.raise("pcap.replay: bad speed '%s' (expected a factor like 1.0, or 0 or \"max\")", tostring(o.speed))
  end
  local loop = o.loop == nil and 1 or o.loop
  if not whole(loop, 0, 2^53) then
    err.raise("pcap.replay: bad loop '%s' (expected a count, 0: until the run stops)", tostring(o.loop))
  end
  local max = o.max_frames
  if max ~= nil and not whole(max, 1, 2^53) then
    err.raise("pcap.replay: bad max_frames '%s' (expected a whole number, 1 or more)", tostring(max))
  end
  max = max or math.huge
  local on_frame = o.on_frame
  if on_frame ~= nil and type(on_frame) ~= "function" then
    err.raise("pcap.replay: on_frame must be a function")
  end

  local rd = M.reader(path)
  local lt = rd:linktype()
  if lt ~= LINKTYPE_ETHERNET then
    rd:close()
    err.raise("pcap.replay: '%s' is not an Ethernet capture (link type %d)", path, lt)
  end
  local bufsize = ring.r.buf_size
  local r, pp, plen, pts, ebuf = rd.r, rd.pp, rd.plen, rd.pts, rd.err
  local scale = speed > 0 and 1 / speed or 0
  local frames, bytes, skipped = 0, 0, 0
  local t0 = C.nmlua_now_ns()
  local pass, in_pass = 0, 0     -- passes done, frames read in this one
  local base = 0                 -- when this pass began (ns from t0)
  local first                    -- the capture's first timestamp (uint64_t)
  local have, due = false, 0     -- a frame read and not yet queued, and when it is due
  local n, space = 0, ring:space()

  while true do
    if not have then
      local rc = C.nmlua_pcap_next(r, pp, plen, plen + 1, pts, ebuf)
      if rc < 0 then
        rd:close()
        err.raise("pcap '%s': %s", path, ffi.string(ebuf))
      elseif rc == 0 then
        pass = pass + 1
        if in_pass == 0 or (loop ~= 0 and pass >= loop) or C.nmlua_running(0) == 0 then break end
        rd:rewind()
        in_pass, first, base = 0, nil, now_ns(t0)
      else
        in_pass = in_pass + 1
        local ts = pts[0]
        if first == nil then first = ts end
        -- Exact differences; a stamp before the first goes out at once.
        due = base + (ts > first and tonumber(ts - first) * scale or 0)
        have = true
      end
    elseif n < space and (scale == 0 or due <= now_ns(t0)) then
      local len = plen[0]
      if len > bufsize then
        skipped = skipped + 1
      else
        local buf = ring:buf(n)
        ffi.copy(buf, pp[0], len)
        if on_frame then
          local l = on_frame(buf, len, tonumber(pts[0]))
          if l == false then
            len = nil
          elseif l ~= nil then
            if not whole(l, 1, bufsize) then
              rd:close()
              err.raise("pcap.replay: on_frame returned a bad length '%s'", tostring(l))
            end
            len = l
          end
        end
        if len then
          ring:set_len(n, len)
          n = n + 1
          frames = frames + 1
          bytes = bytes + len
        else
          skipped = skipped + 1
        end
      end
      have = false
      if frames >= max then break end
    elseif n > 0 then
      -- The ring is full, or the next frame is not due yet.
      space = ring:send(n)
      n = 0
      if space < 0 then
        rd:close()
        err.raise("pcap.replay: send failed: errno %d", -space)
      end
      if C.nmlua_running(0) == 0 then break end
    elseif n >= space then
      if ring:poll(10) < 0 then
        rd:close()
        err.raise("pcap.replay: poll failed")
      end
      space = ring:space()
      if C.nmlua_running(0) == 0 then break end
    else
      local wait = due - now_ns(t0)
      if wait > 200e3 then
        if C.nmlua_sleep((wait - 150e3) * 1e-9) ~= 0 then break end
      elseif C.nmlua_running(0) == 0 then
        break
      end
    end
  end
  -- A stop is only seen with nothing queued; a cap or the end may leave
  -- frames queued.
  if n > 0 then ring:send(n) end
  rd:close()
  return { frames = frames, bytes = bytes, skipped = skipped, seconds = now_ns(t0) * 1e-9 }
end

-- ---- selftest ------------------------------------------------------------------

-- A TX ring in memory with the methods replay uses, noting what was sent.
local function fake_ring(nslots, buf_size)
  local bufs = ffi.new("uint8_t[?]", nslots * buf_size)
  local lens = ffi.new("uint32_t[?]", nslots)
  local ring = { r = { buf_size = buf_size }, sent = {}, sends = 0 }
  local t0 = C.nmlua_now_ns()
  function ring.space() return nslots end
  function ring.buf(_, i) return bufs + i * buf_size end
  function ring.set_len(_, i, len) lens[i] = len end
  function ring.poll() return 1 end
  function ring.send(self, n)
    local t = now_ns(t0)
    for i = 0, n - 1 do
      self.sent[#self.sent + 1] = { len = lens[i], b0 = bufs[i * buf_size], b1 = bufs[i * buf_size + 1], t = t }
    end
    self.sends = self.sends + 1
    return nslots
  end
  ring.t0 = t0
  return ring
end

local function user_error(f, ...)
  local ok, e = pcall(f, ...)
  return not ok and err.is_user(e), e
end

function M.selftest()
  local path = os.tmpname()
  local frame = ffi.new("uint8_t[1600]")
  local function fill(i, len)
    for j = 0, len - 1 do frame[j] = (i * 7 + j) % 256 end
  end
  local function ts_of(i) return 1e15 + i * 1000003 + i % 7 end   -- exact doubles

  -- 1000 frames, nanosecond stamps, read back exactly.
  local w = M.writer(path, { nanos = true })
  for i = 1, 1000 do
    local len = 60 + (i * 13) % 1455
    fill(i, len)
    assert(w:write(frame, len, ts_of(i)) == true)
  end
  assert(w:written() == 1000)
  assert(w:close() and w:close(), "close twice is fine")
  assert(w:written() == 1000)
  assert(user_error(w.write, w, frame, 60))

  local r = M.reader(path)
  assert(r:linktype() == 1)
  for i = 1, 1000 do
    local p, len, ts, wire = r:next()
    local want = 60 + (i * 13) % 1455
    assert(p ~= nil and len == want and wire == want, string.format("frame %d: len %s", i, tostring(len)))
    assert(ts == ts_of(i), string.format("frame %d: ts %.0f, want %.0f", i, ts, ts_of(i)))
    for j = 0, len - 1 do
      if p[j] ~= (i * 7 + j) % 256 then error(string.format("frame %d byte %d", i, j)) end
    end
  end
  assert(r:next() == nil and r:next() == nil)
  r:rewind()
  local count = 0
  for _, len, ts in r:frames() do
    count = count + 1
    if count == 1 then assert(len == 73 and ts == ts_of(1)) end
  end
  assert(count == 1000)
  r:close()
  r:close()
  assert(user_error(r.next, r))

  -- Today's timestamps are exact through ts_u64(); microsecond files;
  -- snaplen; a Lua string as the frame; "now" for a missing stamp.
  local stamp = 1700000000123456789ULL
  w = M.writer(path, { snaplen = 100 })
  w:write(frame, 200, stamp)
  w:write(string.rep("x", 64))
  w:close()
  local mw = M.writer(path .. ".us", { nanos = false })
  mw:write(frame, 60, 1e15 + 1234)
  mw:close()
  r = M.reader(path)
  local _, len, _, wire = r:next()
  assert(len == 100 and wire == 200 and r:ts_u64() == stamp, "snaplen, exact stamp")
  local p2, len2, ts2 = r:next()
  local wall = tonumber(C.nmlua_wall_ns())
  assert(len2 == 64 and p2[63] == 120 and math.abs(ts2 - wall) < 60e9, "string frame, stamp now")
  r:close()
  r = M.reader(path .. ".us")
  local _, _, tsu = r:next()
  assert(tsu == 1e15 + 1000, "microsecond file: " .. tsu)
  r:close()
  os.remove(path .. ".us")

  -- The cap.
  w = M.writer(path, { max_frames = 10 })
  for i = 1, 10 do assert(w:write(frame, 60, ts_of(i)) == true) end
  assert(w:write(frame, 60) == false and w:write(frame, 60) == false and w:written() == 10)
  w:close()
  r = M.reader(path)
  count = 0
  for _ in r:frames() do count = count + 1 end
  assert(count == 10)
  r:close()

  -- Bad paths and options are the script's errors.
  assert(user_error(M.writer, "/nonexistent-dir/x.pcap"))
  assert(user_error(M.reader, "/nonexistent-dir/x.pcap"))
  assert(user_error(M.writer, path, { nano = true }))
  assert(user_error(M.writer, path, { snaplen = 0 }))
  assert(user_error(M.writer, path, { max_frames = 1.5 }))
  assert(user_error(M.writer, ""))
  local junk = io.open(path .. ".junk", "w")
  junk:write("not a capture, clearly not a capture\n")
  junk:close()
  local ok, e = user_error(M.reader, path .. ".junk")
  assert(ok and tostring(e):find("cannot open", 1, true), tostring(e))
  os.remove(path .. ".junk")

  -- Replay: 50 frames 2 ms apart, one of them too long for the ring.
  w = M.writer(path)
  for i = 0, 49 do
    local flen = i == 10 and 1600 or 60 + i
    fill(i, flen)
    w:write(frame, flen, 1700000000000000000ULL + i * 2000000)
  end
  w:close()
  local ring = fake_ring(64, 1024)
  local res = M.replay(ring, path)
  assert(res.frames == 49 and res.skipped == 1 and #ring.sent == 49, "replay counts")
  local want_bytes = 0
  for i = 0, 49 do if i ~= 10 then want_bytes = want_bytes + 60 + i end end
  assert(res.bytes == want_bytes)
  assert(res.seconds >= 0.098 and res.seconds < 0.5, "replay took " .. res.seconds)
  for k, s in ipairs(ring.sent) do
    local i = k <= 10 and k - 1 or k
    assert(s.len == 60 + i and s.b0 == (i * 7) % 256 and s.b1 == (i * 7 + 1) % 256, "replayed frame " .. k)
    -- Never early (10 us for the clock read before the send).
    assert(s.t >= i * 2e6 - 10e3, string.format("frame %d sent at %.0f ns, due %.0f", i, s.t, i * 2e6))
  end
  M.figures = { replay = { seconds = res.seconds, sends = ring.sends } }

  -- Faster, looped, capped, and as fast as possible.
  ring = fake_ring(64, 1024)
  res = M.replay(ring, path, { speed = 10, loop = 2 })
  assert(res.frames == 98 and res.skipped == 2 and res.seconds >= 0.0196 and res.seconds < 0.2,
         "speed 10, loop 2: " .. res.seconds)
  ring = fake_ring(16, 2048)
  res = M.replay(ring, path, { speed = "max", loop = 0, max_frames = 120 })
  assert(res.frames == 120 and res.skipped == 0 and res.seconds < 0.1 and #ring.sent == 120)
  assert(ring.sends >= 8, "max: batches of at most the ring's space")

  -- on_frame may rewrite, shorten or drop frames.
  ring = fake_ring(64, 2048)
  local seen = 0
  res = M.replay(ring, path, { speed = 0, on_frame = function(buf, flen)
    seen = seen + 1
    buf[0] = 0xee
    if seen == 1 then return false end
    if seen == 2 then return flen - 10 end
  end })
  assert(seen == 50 and res.frames == 49 and res.skipped == 1)
  assert(ring.sent[1].len == 51 and ring.sent[1].b0 == 0xee and ring.sent[2].len == 62)

  assert(user_error(M.replay, ring, path, { speed = -1 }))
  assert(user_error(M.replay, ring, path, { loops = 2 }))
  assert(user_error(M.replay, ring, path, { loop = 0.5 }))
  assert(user_error(M.replay, ring, "/nonexistent-dir/x.pcap"))

  -- Not Ethernet: the link type of the file's header (offset 20, written
  -- in this host's byte order by libpcap) set to 101 (raw IP).
  local f = assert(io.open(path, "r+b"))
  f:seek("set", 20)
  f:write(ffi.string(ffi.new("uint32_t[1]", 101), 4))
  f:close()
  r = M.reader(path)
  assert(r:linktype() ~= 1, "raw IP")   -- DLT_RAW: 12 or 14, depending on the system
  r:close()
  ok, e = user_error(M.replay, ring, path)
  assert(ok and tostring(e):find("not an Ethernet capture", 1, true), tostring(e))

  os.remove(path)
end

return M
