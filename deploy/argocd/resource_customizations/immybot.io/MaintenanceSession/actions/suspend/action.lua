-- Nothing new starts; ImmyBot sessions already running go on.
obj.spec.suspend = true
return obj
