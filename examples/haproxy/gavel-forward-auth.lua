-- Gavel forward-auth for HAProxy 2.2 and later (Lua and its sockets only, no other module).
--
-- Asks Gavel's /v1/forward-auth about each request, as nginx's auth_request and Caddy's
-- forward_auth do, and leaves the answer in variables that the configuration acts on
-- (examples/haproxy/haproxy.cfg, docs/gateways.md):
--   txn.gavel_status            Gavel's HTTP status: 200 allow, 401 no valid token, 403 deny;
--                               unset when Gavel could not be asked (the configuration fails closed)
--   txn.gavel_subject           X-Gavel-Subject of an allow, for the upstream
--   txn.gavel_www_authenticate  WWW-Authenticate of a 401
--   txn.gavel_reason            X-Gavel-Reason of a 403
--
-- Load it with `lua-load` and call it with Gavel's address (IPv4 or a name HAProxy resolves):
--   http-request lua.gavel-auth 127.0.0.1 8181
--
-- Two variables, set before that line, add to what Gavel is sent (both optional):
--   txn.gavel_client_key   the gateway's key when Gavel has `client_keys` (X-Gavel-Client-Key):
--                            http-request set-var(txn.gavel_client_key) str("${GAVEL_CLIENT_KEY}")
--   txn.gavel_headers      request headers to pass on, by name, comma-separated: those the
--                          config's `forward_auth.headers` hands to policies
--                            http-request set-var(txn.gavel_headers) str("x-tenant,x-api-version")
-- X-Request-ID, when the request has one, is always passed on: the decision is logged under it.
--
-- It speaks HTTP/1.1 over a plain socket rather than through HAProxy's httpclient: that one
-- retries a refused connection three times a second apart (2.6), so while Gavel is down
-- every request would wait three seconds for its 503.

local TIMEOUT_SECONDS = 2

-- The headers Gavel reads an answer from, lower-cased.
local WANTED = { ["x-gavel-subject"] = "txn.gavel_subject", ["www-authenticate"] = "txn.gavel_www_authenticate", ["x-gavel-reason"] = "txn.gavel_reason" }

-- HAProxy has already refused requests whose headers or path hold CR or LF; this keeps a
-- value that reaches the raw request below from ever starting a header of its own.
local function clean(value)
  if value == nil or value == "" or value:find("[\r\n]") then return nil end
  return value
end

local function ask(host, port, lines)
  local socket = core.tcp()
  socket:settimeout(TIMEOUT_SECONDS)
  local connected, err = socket:connect(host, port)
  if not connected then return nil, "connect: " .. tostring(err) end
  local sent, serr = socket:send(table.concat(lines, "\r\n") .. "\r\n\r\n")
  if not sent then socket:close(); return nil, "send: " .. tostring(serr) end
  local status_line, rerr = socket:receive("*l")
  local status = status_line and tonumber(status_line:match("^HTTP/1%.%d (%d%d%d)"))
  if status == nil then socket:close(); return nil, "no HTTP status: " .. tostring(status_line or rerr) end
  local found = {}
  while true do
    local line = socket:receive("*l")
    if line == nil or line == "" then break end
    local name, value = line:match("^([^:]+):%s*(.-)%s*$")
    if name ~= nil and WANTED[name:lower()] ~= nil then found[WANTED[name:lower()]] = value end
  end
  socket:close()
  return status, found
end

core.register_action("gavel-auth", { "http-req" }, function(txn, host, port)
  -- Two credentials: the upstream may act on another one than Gavel decided on. Not asked;
  -- the configuration refuses the request (fail closed).
  if tonumber(txn.sf:req_fhdr_cnt("authorization")) > 1 or tonumber(txn.sf:req_fhdr_cnt("dpop")) > 1 then
    txn:Warning("gavel-auth: a request with more than one Authorization or DPoP header is refused")
    return
  end
  -- Only what this script sets reaches Gavel: a client's own X-Forwarded-* or X-Original-*
  -- headers are never passed on, so it cannot make Gavel decide on another request.
  local lines = {
    "GET /v1/forward-auth HTTP/1.1",
    "Host: " .. host .. ":" .. port,
    "Connection: close",
    "X-Forwarded-Method: " .. txn.sf:method(),
    "X-Forwarded-Uri: " .. txn.sf:pathq(),
    -- txn.sf answers strings: ssl_fc is "1" or "0", and any string is true in Lua.
    "X-Forwarded-Proto: " .. (txn.sf:ssl_fc() == "1" and "https" or "http"),
    -- Gavel believes this only from an address in its trusted_proxies.
    "X-Forwarded-For: " .. txn.sf:src(),
  }
  -- Whole header values (req_fhdr): req_hdr would split one at commas and hand over a part.
  for header, name in pairs({ ["X-Forwarded-Host"] = "host", ["Authorization"] = "authorization", ["DPoP"] = "dpop", ["X-Request-ID"] = "x-request-id" }) do
    local value = clean(txn.sf:req_fhdr(name))
    if value ~= nil then lines[#lines + 1] = header .. ": " .. value end
  end
  local passed = txn:get_var("txn.gavel_headers")
  if passed ~= nil then
    for name in tostring(passed):gmatch("[^,%s]+") do
      local lower = name:lower()
      -- Only header names, and none that says what to decide about: those are this script's to set.
      if lower:match("^[%w!#$%%&'*+.^_`|~-]+$") and not lower:match("^x%-forwarded%-") and not lower:match("^x%-original%-")
        and lower ~= "host" and lower ~= "authorization" and lower ~= "dpop" and lower ~= "x-request-id" and lower ~= "x-gavel-client-key"
        and lower ~= "connection" and lower ~= "content-length" and lower ~= "transfer-encoding" and lower ~= "forwarded" then
        -- A header sent twice is passed as it came, every copy: Gavel answers 400 for a handed header
        -- it is sent twice (joined, `blocked, blocked` would pass a forbid on `blocked`), and this fails closed.
        for i = 0, tonumber(txn.sf:req_fhdr_cnt(lower)) - 1 do
          local value = clean(txn.sf:req_fhdr(lower, i + 1))
          if value ~= nil then lines[#lines + 1] = name .. ": " .. value end
        end
      end
    end
  end
  local key = clean(txn:get_var("txn.gavel_client_key"))
  if key ~= nil then lines[#lines + 1] = "X-Gavel-Client-Key: " .. key end

  local status, found = ask(host, tonumber(port), lines)
  if status == nil then
    txn:Warning("gavel-auth: no answer from " .. host .. ":" .. port .. ": " .. found)
    return
  end
  txn:set_var("txn.gavel_status", status)
  for var, value in pairs(found) do
    if var ~= "txn.gavel_subject" or status == 200 then txn:set_var(var, value) end
  end
end, 2)
