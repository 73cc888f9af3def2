-- No run is created while suspended; runs already created go on.
obj.spec.suspend = true
return obj
