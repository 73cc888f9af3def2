-- What `kubectl immybot resume` does: one more spec.resume.requests. A
-- halted rollout accepts its failures and starts its next wave; postponed
-- ImmyBot sessions are resumed. Each increment is acted on once.
if obj.spec.resume == nil then
  obj.spec.resume = {}
end
local n = obj.spec.resume.requests
if n == nil then
  n = 0
end
obj.spec.resume.requests = n + 1
return obj
