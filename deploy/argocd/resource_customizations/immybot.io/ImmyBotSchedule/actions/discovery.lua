-- The actions Argo CD offers on an ImmyBotSchedule, and when.
local actions = {}
local suspended = obj.spec ~= nil and obj.spec.suspend == true
local created = obj.status ~= nil and obj.status.scheduleId ~= nil
local running = obj.status ~= nil and obj.status.running == true
actions["suspend"] = {["disabled"] = suspended}
actions["resume"] = {["disabled"] = not suspended}
actions["run-now"] = {["disabled"] = suspended or not created}
actions["cancel-running"] = {["disabled"] = not running}
return actions
