-- One more run: the operator acts on each increment once (spec.runNow.requests).
if obj.spec.runNow == nil then
  obj.spec.runNow = {}
end
obj.spec.runNow.requests = (obj.spec.runNow.requests or 0) + 1
return obj
