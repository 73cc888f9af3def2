-- Runs are created again; a time missed while suspended runs only within
-- startingDeadlineSeconds (CronJob's rule).
obj.spec.suspend = false
return obj
