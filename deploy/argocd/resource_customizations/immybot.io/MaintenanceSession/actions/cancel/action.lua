-- Final: the operator cancels the ImmyBot sessions. Argo CD actions take no
-- parameters, so the reason says where it came from.
if obj.spec.cancel == nil then
  obj.spec.cancel = {}
  obj.spec.cancel.reason = "cancelled from Argo CD"
end
return obj
