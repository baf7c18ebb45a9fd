-- redact-secrets.lua — masks secrets in the user's messages before they
-- leave the machine: AWS access key ids, common API tokens (sk-..., ghp_...,
-- xox...-...), and PEM private keys. The model sees the mask instead.
--
--   plugins:
--     load: [{path: examples/plugins/redact-secrets.lua}]
--   pipelines:
--     default: [redact-secrets]

local function rep(class, n) return string.rep(class, n) end

-- Lua patterns (not regexes): each is replaced wherever it occurs.
local PATTERNS = {
  "%-%-%-%-%-BEGIN[%u ]*PRIVATE KEY%-%-%-%-%-.-%-%-%-%-%-END[%u ]*PRIVATE KEY%-%-%-%-%-",
  "AKIA" .. rep("[0-9A-Z]", 16),
  "ASIA" .. rep("[0-9A-Z]", 16),
  "sk%-[%w_%-]" .. rep("[%w_%-]", 19) .. "[%w_%-]*",
  "gh[pousr]_" .. rep("[%w]", 36),
  "xox[abprs]%-[%w%-]+",
}

local function redact(text, mask, count)
  for _, p in ipairs(PATTERNS) do
    local n
    text, n = text:gsub(p, mask)
    count = count + n
  end
  return text, count
end

return {
  name = "redact-secrets",
  version = "1.0",
  summary = "Masks AWS keys, API tokens and private keys in user messages before they are sent.",
  -- Only the messages are sent to the hook: the tools and the system prompt stay put.
  reads = { "messages" },
  options = {
    mask = { type = "string", default = "[REDACTED]", help = "what a secret is replaced with" },
  },
  request = function(req, ctx)
    local mask, count = ctx.options.mask, 0
    for _, msg in ipairs(req.messages or {}) do
      if msg.role == "user" then
        if type(msg.content) == "string" then
          msg.content, count = redact(msg.content, mask, count)
        else
          for _, block in ipairs(msg.content or {}) do
            if block.type == "text" then
              block.text, count = redact(block.text, mask, count)
            elseif block.type == "tool_result" and type(block.content) == "string" then
              block.content, count = redact(block.content, mask, count)
            elseif block.type == "tool_result" and type(block.content) == "table" then
              for _, inner in ipairs(block.content) do
                if inner.type == "text" then inner.text, count = redact(inner.text, mask, count) end
              end
            end
          end
        end
      end
    end
    if count > 0 then ctx.log("info", "redacted " .. count .. " secret(s)") end
  end,
}
