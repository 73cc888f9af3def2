-- The actions Argo CD offers on a MaintenanceSession, and when.
local actions = {}
local final = false
if obj.status ~= nil and obj.status.phase ~= nil then
  local p = obj.status.phase
  final = p == "Succeeded" or p == "Failed" or p == "PartiallySucceeded" or p == "TimedOut" or p == "Cancelled"
end
local waiting = obj.status ~= nil and (obj.status.phase == "Halted" or obj.status.phase == "Postponed")
local suspended = obj.spec ~= nil and obj.spec.suspend == true
local cancelled = obj.spec ~= nil and obj.spec.cancel ~= nil
actions["suspend"] = {["disabled"] = final or suspended or cancelled}
actions["resume"] = {["disabled"] = final or not suspended}
actions["cancel"] = {["disabled"] = final or cancelled}
-- Continue a halted rollout (or resume postponed sessions): a person's call.
actions["continue"] = {["disabled"] = final or cancelled or not waiting}
return actions
