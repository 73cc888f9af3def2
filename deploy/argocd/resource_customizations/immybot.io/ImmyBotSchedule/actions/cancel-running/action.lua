-- Cancels the sessions the schedule is running (spec.cancelRunning.requests).
if obj.spec.cancelRunning == nil then
  obj.spec.cancelRunning = {}
end
obj.spec.cancelRunning.requests = (obj.spec.cancelRunning.requests or 0) + 1
return obj
