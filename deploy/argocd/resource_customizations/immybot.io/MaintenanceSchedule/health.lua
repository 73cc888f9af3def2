-- Argo CD health of a MaintenanceSchedule, from its conditions (see docs/schedules.md).
-- Progressing: waiting for the operator to look at the latest spec.
-- Suspended: spec.suspend holds it (no run is created).
-- Healthy: the schedule runs (also when a run was skipped or missed: the
--   message says so; a failed run is the computers' health, not the schedule's).
-- Degraded: stalled (an unreadable schedule or time zone, a run name taken).
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
if stalled ~= nil and stalled.status == "True" then
  hs.status = "Degraded"
  hs.message = stalled.message
elseif obj.spec ~= nil and obj.spec.suspend == true then
  hs.status = "Suspended"
  hs.message = "spec.suspend is true: no run is created"
elseif ready.status == "True" then
  hs.status = "Healthy"
  hs.message = ready.message
  if obj.status.lastRun ~= nil and obj.status.lastRun.phase ~= nil then
    hs.message = hs.message .. "; last run " .. obj.status.lastRun.name .. " " .. obj.status.lastRun.phase
  end
else
  hs.status = "Progressing"
  hs.message = ready.message
end
return hs
