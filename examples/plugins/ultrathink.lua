-- ultrathink.lua — the word "ultrathink" in the latest user message turns
-- on extended thinking with a large budget, whatever the client asked.
--
--   pipelines:
--     default: [{use: ultrathink, with: {budget: 31999}}]

local function latest_user_text(req)
  local msgs = req.messages or {}
  for i = #msgs, 1, -1 do
    local m = msgs[i]
    if m.role == "user" then
      if type(m.content) == "string" then return m.content end
      local parts = {}
      for _, b in ipairs(m.content or {}) do
        if b.type == "text" then parts[#parts + 1] = b.text end
      end
      return table.concat(parts, "\n")
    end
  end
  return ""
end

return {
  name = "ultrathink",
  version = "1.0",
  summary = "Raises the thinking budget when the latest user message says 'ultrathink'.",
  -- What the hook reads or changes; the rest of the request is not sent to it.
  reads = { "messages", "max_tokens", "temperature" },
  options = {
    budget = { type = "integer", default = 31999, help = "budget_tokens when triggered" },
    keyword = { type = "string", default = "ultrathink", help = "the trigger word (any case)" },
  },
  request = function(req, ctx)
    local text = latest_user_text(req):lower()
    if not text:find(ctx.options.keyword:lower(), 1, true) then return end
    local budget = ctx.options.budget
    req.thinking = { type = "enabled", budget_tokens = budget }
    -- The budget must stay below max_tokens, or the provider refuses.
    if (req.max_tokens or 0) <= budget then req.max_tokens = budget + 4096 end
    -- Thinking does not allow a forced temperature.
    req.temperature = nil
  end,
}
