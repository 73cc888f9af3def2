-- Argo CD health of a MaintenanceSession, from its status (see docs/design.md).
-- Progressing: waiting for the operator, for approval, or on ImmyBot.
-- Suspended: spec.suspend holds it. Healthy: every computer passed.
-- Degraded: it ended any other way, or is stalled with a message to act on.
local hs = {}
local function condition(obj, type)
  if obj.status ~= nil and obj.status.conditions ~= nil then
    for _, c in ipairs(obj.status.conditions) do
      if c.type == type then
        return c
      end
    end
  end
  return nil
end

if obj.status == nil or obj.status.phase == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to look at this session"
  return hs
end
if obj.metadata.generation ~= nil and obj.status.observedGeneration ~= nil
    and obj.status.observedGeneration < obj.metadata.generation then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to see the latest change"
  return hs
end

local phase = obj.status.phase
local ready = condition(obj, "Ready")
local message = phase
if ready ~= nil and ready.message ~= nil and ready.message ~= "" then
  message = ready.message
end

if phase == "Succeeded" then
  hs.status = "Healthy"
elseif phase == "Failed" or phase == "PartiallySucceeded" or phase == "TimedOut" or phase == "Cancelled" then
  hs.status = "Degraded"
elseif phase == "Suspended" then
  hs.status = "Suspended"
else
  local stalled = condition(obj, "Stalled")
  if stalled ~= nil and stalled.status == "True" then
    hs.status = "Degraded"
    message = stalled.message
  else
    hs.status = "Progressing"
  end
end
hs.message = message
return hs
