-- A MaintenanceApproval has no status: it is healthy while it can count, and
-- degraded once it has expired (the session it approves will not start on it).
local hs = {status = "Healthy", message = "Approval for digest " .. tostring(obj.spec.digest)}
if obj.spec.expiresAt ~= nil and obj.metadata.creationTimestamp ~= nil then
  -- RFC 3339 timestamps of the same form compare as strings.
  if os ~= nil and os.date ~= nil then
    local now = os.date("!%Y-%m-%dT%H:%M:%SZ")
    if obj.spec.expiresAt <= now then
      hs.status = "Degraded"
      hs.message = "Expired at " .. obj.spec.expiresAt .. "; approve again if the session still needs it"
    end
  end
end
return hs
