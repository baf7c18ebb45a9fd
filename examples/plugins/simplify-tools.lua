-- simplify-tools.lua — makes Claude Code's tool schemas easier for small
-- local models: drops JSON Schema keywords they trip on ($schema,
-- additionalProperties, format, examples, ...), shortens long descriptions,
-- and can keep only some tools.
--
--   pipelines:
--     local: [{use: simplify-tools, with: {max_description: 120, keep: [Read, Edit, Bash]}}]

local DROP = { ["$schema"] = true, additionalProperties = true, format = true, examples = true,
               default = true, ["$id"] = true, pattern = true, minLength = true, maxLength = true,
               minItems = true, maxItems = true, uniqueItems = true }

local function shorten(s, max)
  if type(s) ~= "string" or #s <= max then return s end
  -- Cut on a character boundary: back off UTF-8 continuation bytes.
  local cut = max
  while cut > 0 and (s:byte(cut + 1) or 0) & 0xC0 == 0x80 do cut = cut - 1 end
  return s:sub(1, cut) .. "…"
end

local function simplify(schema, max)
  if type(schema) ~= "table" then return end
  for k in pairs(DROP) do schema[k] = nil end
  schema.description = shorten(schema.description, max)
  for _, sub in pairs(schema.properties or {}) do simplify(sub, max) end
  if type(schema.items) == "table" then simplify(schema.items, max) end
  for _, key in ipairs({ "anyOf", "oneOf", "allOf" }) do
    for _, sub in ipairs(schema[key] or {}) do simplify(sub, max) end
  end
end

return {
  name = "simplify-tools",
  version = "1.0",
  summary = "Simplifies tool schemas for small models: fewer keywords, shorter descriptions.",
  -- Only the tools are sent to the hook.
  reads = { "tools" },
  options = {
    max_description = { type = "integer", default = 200, help = "longest description kept (bytes)" },
    keep = { type = "string_list", help = "tool names to keep (all when unset)" },
  },
  request = function(req, ctx)
    if not req.tools then return end
    local keep
    if ctx.options.keep then
      keep = {}
      for _, name in ipairs(ctx.options.keep) do keep[name] = true end
    end
    local tools = ccp.json.array()
    for _, tool in ipairs(req.tools) do
      if not keep or keep[tool.name] then
        tool.description = shorten(tool.description, ctx.options.max_description)
        simplify(tool.input_schema, ctx.options.max_description)
        tools[#tools + 1] = tool
      end
    end
    req.tools = tools
  end,
}
