-- Argo CD health of an ImmyBotSchedule, from its conditions (see docs/schedules.md).
-- Progressing: waiting for the operator, for approval, or a write under way.
-- Suspended: spec.suspend holds it (disabled in ImmyBot).
-- Healthy: ImmyBot holds the approved definition.
-- Degraded: stalled (a message says what to do) or drifted under driftPolicy Report.
-- A failed run is the computers' health, not the schedule's: it is named in
-- the message, not turned into Degraded.
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

local ready = condition(obj, "Ready")
if obj.status == nil or ready == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to look at this schedule"
  return hs
end
if obj.metadata.generation ~= nil and obj.status.observedGeneration ~= nil
    and obj.status.observedGeneration < obj.metadata.generation then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to see the latest change"
  return hs
end

local stalled = condition(obj, "Stalled")
local drifted = condition(obj, "Drifted")
if stalled ~= nil and stalled.status == "True" then
  hs.status = "Degraded"
  hs.message = stalled.message
elseif drifted ~= nil and drifted.status == "True" then
  hs.status = "Degraded"
  hs.message = drifted.message
elseif ready.status == "True" then
  if obj.spec ~= nil and obj.spec.suspend == true then
    hs.status = "Suspended"
    hs.message = "spec.suspend is true: disabled in ImmyBot"
  else
    hs.status = "Healthy"
    hs.message = ready.message
    if obj.status.lastRun ~= nil and obj.status.lastRun.result ~= nil then
      hs.message = hs.message .. "; last run " .. obj.status.lastRun.result
    end
  end
else
  hs.status = "Progressing"
  hs.message = ready.message
end
return hs
