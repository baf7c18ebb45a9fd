-- route-by-project.lua — routes by the project Claude Code works in: its
-- system prompt names the working directory ("Working directory: /path");
-- the first configured prefix that the directory starts with picks the
-- target. Other requests go on to the rules and stages (return nil).
--
--   plugins:
--     load:
--       - path: examples/plugins/route-by-project.lua
--         options:
--           projects: {/home/me/work/: "corp/claude-sonnet-4-5", /home/me/oss/: "local/qwen3-coder"}
--   router:
--     script: route-by-project

local function system_text(req)
  if type(req.system) == "string" then return req.system end
  local parts = {}
  for _, block in ipairs(req.system or {}) do
    if block.type == "text" then parts[#parts + 1] = block.text end
  end
  return table.concat(parts, "\n")
end

return {
  name = "route-by-project",
  version = "1.0",
  summary = "Picks the target from the working directory named in Claude Code's system prompt.",
  -- Only the system prompt is sent to the hook.
  reads = { "system" },
  options = {
    projects = { type = "mapping", help = "directory prefix -> provider/model" },
  },
  route = function(req, ctx)
    local dir = system_text(req):match("Working directory: ([^\n]+)")
    if not dir then return nil end
    local best, target = "", nil
    for prefix, t in pairs(ctx.options.projects or {}) do
      -- The longest matching prefix wins (pairs has no order).
      if dir:sub(1, #prefix) == prefix and #prefix > #best then best, target = prefix, t end
    end
    return target
  end,
}
