-- The actions Argo CD offers on a MaintenanceSession, and when.
local actions = {}
local final = false
if obj.status ~= nil and obj.status.phase ~= nil then
  local p = obj.status.phase
  final = p == "Succeeded" or p == "Failed" or p == "PartiallySucceeded" or p == "TimedOut" or p == "Cancelled"
end
local suspended = obj.spec ~= nil and obj.spec.suspend == true
local cancelled = obj.spec ~= nil and obj.spec.cancel ~= nil
actions["suspend"] = {["disabled"] = final or suspended or cancelled}
actions["resume"] = {["disabled"] = final or not suspended}
actions["cancel"] = {["disabled"] = final or cancelled}
return actions
